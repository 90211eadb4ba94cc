# tapelab: `make run` (the main job) and `make test` (the whole suite) do everything
# on a fresh machine with python3 and make. The venv is built once; a later run with an
# unchanged pyproject.toml reinstalls nothing.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.tapelab-installed
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
NBVAL  := --nbval --nbval-current-env --nbval-cell-timeout=600 --nbval-sanitize-with notebooks/nbval_sanitize.cfg

.PHONY: install test unit nbval claims run notebooks bench lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,notebooks]'
	@touch $@

## the whole suite: unit tests, doctests, nbval (strict) over notebooks/, claim check
test: install
	$(PY) -m pytest tests tapelab $(if $(NOTEBOOKS),$(NBVAL) $(NOTEBOOKS))
	$(if $(NOTEBOOKS),$(VENV)/bin/tapelab check-claims $(NOTEBOOKS))

unit: install
	$(PY) -m pytest tests tapelab

nbval: install
	$(PY) -m pytest $(NBVAL) $(NOTEBOOKS)

claims: install
	$(VENV)/bin/tapelab check-claims $(NOTEBOOKS)

## the main job: execute every notebook headless into build/, summary, errata table
run: install
	$(if $(NOTEBOOKS),$(VENV)/bin/tapelab run-notebooks --out build $(NOTEBOOKS),$(VENV)/bin/tapelab demo)
	$(if $(NOTEBOOKS),$(VENV)/bin/tapelab errata)

## maintainers: re-execute the notebooks and store their outputs in place
notebooks: install
	$(VENV)/bin/tapelab run-notebooks --in-place $(NOTEBOOKS)

bench: install
	$(PY) benchmarks/bench_core.py
	$(PY) benchmarks/bench_transforms.py
	$(PY) benchmarks/bench_fine_tune.py

lint: install
	$(VENV)/bin/ruff check tapelab tests benchmarks examples

clean:
	rm -rf build .pytest_cache
