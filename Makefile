# One command per job. The README's two commands are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet -c constraints.txt
DATA ?= $(or $(BRAINTUMORAI_DATA),../shared/data)

.PHONY: venv demo test bench clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt constraints.txt pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PIP) torch==2.13.0
	$(PIP) -r requirements.txt
	$(PIP) --no-deps -e .
	touch $@

demo: venv
	$(BIN)/python BrainTumorAI/Scripts/demo.py --data $(DATA) --out out/demo

test: venv
	$(BIN)/python -m pytest -q

bench: venv
	$(BIN)/python -m BrainTumorAILib.bench --data $(DATA)

clean:
	rm -rf $(VENV) out
