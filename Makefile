# One command per job. The README's two commands are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet -c constraints.txt
DATA ?= $(or $(BRAINTUMORAI_DATA),../shared/data)

.PHONY: venv demo test bench bench-strip peers clean

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
	$(BIN)/python -m BrainTumorAILab.bench --data $(DATA)

peers: venv
	$(BIN)/python -m pip install --quiet --upgrade --target .peers -c constraints.txt --no-deps deepbet==1.0.2 \
		connected-components-3d==4.1.1 fill_voids==2.1.2 fastremap==1.21.0 pandas==3.1.1 python-dateutil six tzdata

bench-strip: peers
	PYTHONPATH=.peers $(BIN)/python -m BrainTumorAILab.stripping.bench --data $(DATA)

clean:
	rm -rf $(VENV) out
