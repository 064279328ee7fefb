# `make run`: the PBB comparison end to end.  `make test`: the linter and the test suite.  `make smoke`: a few seconds
# of training.  All create .venv first.
# torch is pinned to 2.13.0 where no torch is installed yet: on a CPU-only machine that is the CPU build; on a machine
# that already has a CUDA torch (>= 2.4), set PYTHON to its python instead (and install requirements*.txt there).
PYTHON ?= .venv/bin/python
OWN_VENV := $(filter .venv/bin/python,$(PYTHON))

.venv/done: requirements.txt
	python3 -m venv .venv
	.venv/bin/pip install -q torch==2.13.0
	.venv/bin/pip install -q -r requirements.txt
	touch .venv/done

# TransformerLens, for interp/export.py and its test (the `interp` extra of pyproject.toml)
.venv/interp-done: .venv/done requirements-interp.txt
	.venv/bin/pip install -q -r requirements-interp.txt
	touch .venv/interp-done

venv: $(if $(OWN_VENV),.venv/done)

test: venv $(if $(OWN_VENV),.venv/interp-done)
	$(PYTHON) -m ruff check .
	$(PYTHON) -m pytest -q tests

run: venv
	$(PYTHON) -m experiments.pbb --jobs 2

smoke: venv
	$(PYTHON) train.py configs/smoke.py

.PHONY: venv test run smoke
