"""The panel's Designer file loads offscreen and holds every widget the module's code uses."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import pytest

from slicer_harness import MODULE_DIR

UI_FILE = MODULE_DIR / "Resources" / "UI" / "BrainTumorAI.ui"
MODULE_FILE = MODULE_DIR / "BrainTumorAI.py"


def _widgets_in_ui() -> dict[str, dict]:
    """Load the .ui with PySide6's QUiLoader in a child process (offscreen Qt) and list its widgets."""
    pytest.importorskip("PySide6")
    script = textwrap.dedent(f"""
        import json, sys
        from PySide6.QtCore import QFile
        from PySide6.QtWidgets import QApplication, QWidget
        from PySide6.QtUiTools import QUiLoader
        app = QApplication([])
        file = QFile({str(UI_FILE)!r})
        assert file.open(QFile.ReadOnly), "cannot open the .ui file"
        root = QUiLoader().load(file)
        assert root is not None, "QUiLoader could not load the .ui file"
        widgets = {{}}
        for widget in [root, *root.findChildren(QWidget)]:
            names = [bytes(n).decode() for n in widget.dynamicPropertyNames()]
            widgets[widget.objectName()] = {{"class": type(widget).__name__,
                                             "parameter": widget.property("SlicerParameterName")
                                             if "SlicerParameterName" in names else None}}
        print(json.dumps(widgets))
    """)
    environment = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environment, timeout=60)
    assert done.returncode == 0, done.stderr
    import json

    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def widgets() -> dict[str, dict]:
    return _widgets_in_ui()


def test_every_widget_the_module_uses_exists_in_the_ui(widgets):
    used = set(re.findall(r"self\.ui\.(\w+)", MODULE_FILE.read_text()))
    assert len(used) >= 10
    missing = sorted(used - set(widgets))
    assert not missing, f"BrainTumorAI.py uses widgets that {UI_FILE.name} lacks: {missing}"


def test_parameter_bound_widgets_name_real_parameters(widgets):
    source = MODULE_FILE.read_text()
    block = source[source.index("class BrainTumorAIParameterNode"):source.index("class BrainTumorAIWidget")]
    parameters = set(re.findall(r"^    (\w+):", block, flags=re.MULTILINE))
    bound = {name: info["parameter"] for name, info in widgets.items() if info["parameter"]}
    assert {"flairVolume", "t1Volume", "t1cVolume", "t2Volume", "device"} <= set(bound.values())
    unknown = {name: parameter for name, parameter in bound.items() if parameter not in parameters}
    assert not unknown, f"widgets bound to parameters the parameter node lacks: {unknown}"
