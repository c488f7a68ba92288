# paxos_lit: every command a learner, an instructor or CI needs.
# The virtualenv .venv is created on first use and reinstalled whenever
# pyproject.toml changes.

PYTHON    ?= python3
VENV      := .venv
VPY       := $(VENV)/bin/python
STAMP     := $(VENV)/.installed-stamp
CHROMIUM  := /usr/bin/chromium

# Extra arguments, e.g. make lab LAB_ARGS="--no-browser --port=8899"
LAB_ARGS    ?=
# e.g. make test PYTEST_ARGS="-m 'not slow' -x"
PYTEST_ARGS ?=
# e.g. make book BOOK_ARGS="--all"
BOOK_ARGS   ?=

SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
# JupyterLab refuses to run as root unless told.
ROOT_FLAG := $(shell [ "$$(id -u)" -eq 0 ] && echo --allow-root)

.PHONY: help venv .venv lab book notebooks test chromium bench lint clean distclean
.DEFAULT_GOAL := help

help:
	@echo "make lab     open the book in JupyterLab (http://127.0.0.1:8888)"
	@echo "make test    run the test suite (installs Debian's chromium if missing)"
	@echo "make book    build the static HTML book into book/_build/html"
	@echo "make notebooks  re-execute the book's chapters in place (after changing the package)"
	@echo "make bench   run every bench/bench_*.py --json"
	@echo "make lint    ruff"
	@echo "make clean   remove build outputs and caches (distclean: also .venv)"

$(VPY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(VPY)
	$(VPY) -m pip install -e '.[all]'
	touch $@

venv .venv: $(STAMP)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=book --ip=127.0.0.1 $(ROOT_FLAG) $(LAB_ARGS)

# Strict, offline build of the static book (Jupyter Book 1): executes every
# chapter, warnings are errors, references are checked (-n).
book: $(STAMP)
	$(VENV)/bin/jupyter-book build -W -n --keep-going $(BOOK_ARGS) book/

# The book's chapters, compared by nbval with their committed outputs in `make test`.
BOOK_NOTEBOOKS := $(sort $(wildcard book/*.ipynb book/exercises/*.ipynb))
NBVAL_ARGS     := --nbval --nbval-current-env --nbval-sanitize-with book/nbval_sanitize.cfg

# Re-execute every chapter in place after a change to the package, so the
# committed outputs (what nbval compares against) are current.  Widget state
# is not stored (it would add megabytes).
notebooks: $(STAMP)
	$(VENV)/bin/jupyter nbconvert --execute --to notebook --inplace \
	  --ExecutePreprocessor.store_widget_state=False $(BOOK_NOTEBOOKS)

# Browser tests use Debian's chromium through playwright; never `playwright install`.
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
	  echo "Installing Debian's chromium (needed by the browser tests)"; \
	  $(SUDO) apt-get update && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; \
	fi

# pytest exits 5 when it collected no test: that is a failure here, not a pass.
test: $(STAMP) chromium
	@status=0; $(VPY) -m pytest --durations=15 tests $(NBVAL_ARGS) $(BOOK_NOTEBOOKS) $(PYTEST_ARGS) || status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests (exit 5): failing" >&2; fi; \
	exit $$status

bench: $(STAMP)
	@set -e; found=0; \
	for f in bench/bench_*.py; do \
	  [ -e "$$f" ] || continue; found=1; \
	  echo "== $$f"; $(VPY) "$$f" --json; \
	done; \
	[ $$found -eq 1 ] || echo "no bench/bench_*.py yet"

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf book/_build build dist *.egg-info .pytest_cache .ruff_cache .hypothesis
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
