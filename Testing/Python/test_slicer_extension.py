"""The Slicer extension's packaging: CMake lists every runtime file and none of the lab's, the in-Slicer pins match the
repository's."""

from __future__ import annotations

import re

from slicer_harness import MODULE_DIR, REPO_ROOT

CMAKE = MODULE_DIR / "CMakeLists.txt"
LAB = ("BrainTumorAILab/", "Resources/Configs/")  # training, evaluation, benches and their configs


def _listed() -> set[str]:
    text = CMAKE.read_text().replace("${MODULE_NAME}", "BrainTumorAI")
    return {line.strip() for line in text.splitlines()
            if re.fullmatch(r"\s+[\w./-]+\.\w+", line) and not line.strip().startswith("$")}


def _module_files() -> set[str]:
    files = set()
    for path in MODULE_DIR.rglob("*"):
        relative = path.relative_to(MODULE_DIR).as_posix()
        if not path.is_file() or "__pycache__" in relative or ".egg-info" in relative or path.name.startswith("."):
            continue
        if path.suffix == ".py" or relative.startswith("Resources/"):
            files.add(relative)
    return files


def test_cmake_lists_every_runtime_file_and_resource_of_the_module_and_none_of_the_lab():
    listed, everything = _listed(), _module_files()
    present = {path for path in everything if not path.startswith(LAB)}
    assert "BrainTumorAI.py" in listed and "Resources/UI/BrainTumorAI.ui" in listed
    assert everything - present, "the lab's files are found (else this test checks nothing)"
    assert not present - listed, f"add these to {CMAKE}: {sorted(present - listed)}"
    assert not listed - present, f"{CMAKE} lists files that do not exist: {sorted(listed - present)}"


def test_cmake_builds_the_module_with_generic_tests_and_the_self_test():
    text = CMAKE.read_text()
    assert "WITH_GENERIC_TESTS" in text and "slicer_add_python_unittest(SCRIPT ${MODULE_NAME}.py)" in text
    top = (REPO_ROOT / "CMakeLists.txt").read_text()
    assert re.search(r'set\(EXTENSION_DEPENDS "PyTorch"\)', top) and "add_subdirectory(BrainTumorAI)" in top


def test_packages_installed_into_slicer_carry_the_repository_pins():
    def pins(path):
        lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
        return dict(line.split("==") for line in lines if "==" in line)

    inside_slicer = pins(MODULE_DIR / "Resources" / "slicer-requirements.txt")
    repository = pins(REPO_ROOT / "requirements.txt")
    assert inside_slicer and not {"torch", "numpy", "vtk", "slicer-core"} & set(inside_slicer)
    assert {name: repository.get(name) for name in inside_slicer} == inside_slicer


def test_dependency_check_finds_the_pinned_packages_of_this_environment():
    import sys

    sys.path.insert(0, str(MODULE_DIR))
    from BrainTumorAISlicer import dependencies

    assert dependencies.missing() == [], "the venv is built from the same pins, so nothing should be missing"
    assert dependencies.torch_installed()
