# Two entry points for a fresh machine with Python 3.11:
#   make demo   installs into .venv, generates a signed video and detects it
#   make test   installs the system packages tests need (root + apt), .venv with test extras, runs the suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_PROMPT ?= a large red triangle sliding to the left under a night sky

.PHONY: install system-deps demo test clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

demo: install
	mkdir -p out
	$(VENV)/bin/skyseal generate "$(DEMO_PROMPT)" -o out/demo.mp4 --seed 7
	$(VENV)/bin/skyseal detect out/demo.mp4

system-deps:
	bash scripts/system-deps.sh

test: system-deps install
	$(PY) -m pytest

clean:
	rm -rf $(VENV) out .pytest_cache
