# Two entry points: `make demo` and `make test`. Both set everything up on a
# fresh machine; a stamp file makes re-runs skip the install when nothing changed.
SHELL := /bin/bash
PY_SYS ?= python3.11
ifdef VIRTUAL_ENV
VENV := $(VIRTUAL_ENV)
else
VENV := .venv
endif
PY := $(VENV)/bin/python
STAMP := $(VENV)/.hp3d-installed
REQS := setup.py requirements/runtime.txt requirements/build.txt requirements/coco.txt requirements/tests.txt
PYTEST_ARGS ?=
DEMO_DATA := data/synthetic_egoexo4d

.PHONY: demo test install lint clean-demo

install: $(STAMP)

$(STAMP): $(REQS)
	@test -x $(PY) || $(PY_SYS) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements/build.txt
	$(PY) -m pip install -q -r requirements/runtime.txt
	# The xtcocotools wheel is built against numpy 1: build it from source.
	$(PY) -m pip install -q --no-build-isolation --no-binary xtcocotools -r requirements/coco.txt
	$(PY) -m pip install -q -r requirements/tests.txt
	$(PY) -m pip install -q --no-build-isolation --no-deps -e .
	@touch $(STAMP)

test: install
	$(PY) -m ruff check hp3d tools tests configs
	$(PY) -m pytest -n 2 tests $(PYTEST_ARGS)

demo: install
	bash tools/demo.sh $(PY)

lint: install
	$(PY) -m ruff check hp3d tools tests configs
