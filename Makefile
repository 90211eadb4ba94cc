# tapelab: `make run` (the main job) and `make test` (the whole suite) do everything
# on a fresh machine with python3 and make. The venv is built once; a later run with an
# unchanged pyproject.toml reinstalls nothing.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.tapelab-installed
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
NBVAL  := --nbval --nbval-current-env --nbval-cell-timeout=600 --nbval-sanitize-with notebooks/nbval_sanitize.cfg

.PHONY: install test test-portable test-load test-min unit nbval claims run notebooks docs test-browser bench lint clean

install: $(STAMP)

$(STAMP): pyproject.toml claims/pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ./claims -e '.[dev,notebooks,docs]'
	@touch $@

## the whole suite: nbclaims' own tests (claims/, its own project); tapelab's unit tests,
## doctests, and nbval (strict) over notebooks/ with every `# Output:` claim checked
test: install
	$(PY) -m pytest claims -p no:cacheprovider
	$(PY) -m pytest tests tapelab $(if $(NOTEBOOKS),$(NBVAL) --check-claims --check-prose $(NOTEBOOKS))

## the same suite under other machine layouts: documented outputs and tests must not
## depend on the thread count, oneDNN or the CPU's instruction set (see CONTRIBUTING.md)
##   A: one intra-op thread, oneDNN off (a small CI runner; an ARM Mac, where TF has no oneDNN)
##   B: six intra-op threads, oneDNN capped at AVX2 (a bigger machine without AVX-512)
LAYOUT_A := TF_NUM_INTRAOP_THREADS=1 TF_ENABLE_ONEDNN_OPTS=0
LAYOUT_B := TF_NUM_INTRAOP_THREADS=6 ONEDNN_MAX_CPU_ISA=AVX2
test-portable: install
	$(LAYOUT_A) $(PY) -m pytest tests tapelab $(if $(NOTEBOOKS),$(NBVAL) $(NOTEBOOKS))
	$(if $(NOTEBOOKS),$(LAYOUT_B) $(PY) -m pytest $(NBVAL) $(NOTEBOOKS))

## `make run` beside two CPU-bound processes, as on a loaded 2-core machine (CI runs it)
test-load: install
	$(PY) -m pytest tests/load -p no:cacheprovider

## the fast lane: unit tests and doctests without the slow ones (about a minute)
unit: install
	$(PY) -m pytest claims -m "not slow" -p no:cacheprovider
	$(PY) -m pytest tests tapelab -m "not slow"

## the lowest supported TensorFlow (pyproject's floor), in its own venv: the unit tests
MIN_TF := 2.16.2
VENV_MIN := .venv-min
test-min:
	@test -x $(VENV_MIN)/bin/python || $(PYTHON) -m venv $(VENV_MIN)
	$(VENV_MIN)/bin/python -m pip install --quiet --disable-pip-version-check \
		"tensorflow==$(MIN_TF)" -e ./claims -e '.[dev]'
	$(VENV_MIN)/bin/python -m pytest tests tapelab -m "not slow" -p no:cacheprovider \
		--ignore=tests/test_notebooks_stored.py --ignore=tests/test_notebook_writes.py

nbval: install
	$(PY) -m pytest $(NBVAL) $(NOTEBOOKS)

claims: install
	$(VENV)/bin/tapelab check-claims --prose $(NOTEBOOKS)

## the main job: execute every notebook headless into build/, summary, errata table,
## then the book (build/site/), whose path it prints last
run: install
	$(if $(NOTEBOOKS),$(VENV)/bin/tapelab run-notebooks --out build $(NOTEBOOKS),$(VENV)/bin/tapelab demo)
	$(if $(NOTEBOOKS),$(VENV)/bin/tapelab errata)
	@$(MAKE) --no-print-directory docs

## the book: notebooks (stored outputs, not re-run), API reference, errata, speed table,
## built by plain sphinx-build into build/site/ (docs/conf.py; the generated pages come
## from its own hooks, docs/_ext/), offline, warnings as errors, nitpicky, from scratch
docs: install
	rm -rf build/site
	$(PY) -m sphinx -b html -W --keep-going -E -q -d build/book-doctrees docs build/site
	@echo "The book: $(CURDIR)/build/site/index.html"

## the book in headless Chromium (Debian's package, installed when missing; Playwright's
## Python API drives it): every page, image, link and anchor; screenshots in build/site-screenshots/
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
test-browser: docs
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }
	$(PY) -m pytest tests/browser -p no:cacheprovider

## maintainers: re-execute the notebooks and store their outputs in place
notebooks: install
	$(VENV)/bin/tapelab run-notebooks --in-place $(NOTEBOOKS)

bench: install
	$(PY) benchmarks/bench_core.py
	$(PY) benchmarks/bench_transforms.py
	$(PY) benchmarks/bench_fine_tune.py
	@if $(PY) -c "import jax" 2>/dev/null; then $(PY) benchmarks/bench_jax.py; \
	else echo "benchmarks/bench_jax.py skipped: JAX is not installed (.venv/bin/pip install -e '.[bench]')"; fi

lint: install
	$(VENV)/bin/ruff check tapelab tests benchmarks examples docs claims

clean:
	rm -rf build .pytest_cache
