# `make run`: the PBB comparison end to end.  `make test`: the test suite.  `make smoke`: a few
# seconds of training.  All create .venv first.
# torch is pinned to 2.13.0 where no torch is installed yet: on a CPU-only machine that is the CPU
# build; on a machine that already has a CUDA torch (>= 2.4), set PYTHON to its python instead.
PYTHON ?= .venv/bin/python

.venv/done: requirements.txt
	python3 -m venv .venv
	.venv/bin/pip install -q torch==2.13.0
	.venv/bin/pip install -q -r requirements.txt
	touch .venv/done

venv: $(if $(filter .venv/bin/python,$(PYTHON)),.venv/done)

test: venv
	$(PYTHON) -m pytest -q tests

run: venv
	$(PYTHON) -m experiments.pbb

smoke: venv
	$(PYTHON) train.py configs/smoke.py

.PHONY: venv test run smoke
