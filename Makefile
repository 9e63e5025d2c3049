# Two entry points for a fresh machine with Python 3.11:
#   make demo   installs into .venv, generates a signed video and detects it
#   make test   installs into .venv (with test extras) and runs the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_PROMPT ?= a large red triangle sliding to the left under a night sky

.PHONY: install demo test clean

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

test: install
	$(PY) -m pytest

clean:
	rm -rf $(VENV) out .pytest_cache
