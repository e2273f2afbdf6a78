# The two set-up commands a newcomer runs (see README.md):
#   make demo   creates .venv, installs Workbench and runs the demo
#   make test   creates .venv, installs Workbench with test extras and runs the tests
# On a GPU host with your own CUDA torch, use CONSTRAINTS= (empty) and your own environment.
PYTHON ?= python3.11
VENV ?= .venv
CONSTRAINTS ?= constraints-cpu.txt
PIP_C = $(if $(CONSTRAINTS),-c $(CONSTRAINTS),)

.PHONY: demo test install install-dev

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

install: $(VENV)/bin/python
	$(VENV)/bin/pip install -q $(PIP_C) -e .

install-dev: $(VENV)/bin/python
	$(VENV)/bin/pip install -q $(PIP_C) -e '.[dev]'

demo: install
	$(VENV)/bin/workbench demo --train

test: install-dev
	bash scripts/run-tests.sh $(VENV)
