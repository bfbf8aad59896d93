# The README's two commands: `make demo` and `make test`. Both build .venv first.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint codebook example bench clean browser docs

$(STAMP): pyproject.toml
	@PYBIN=$$(sh .ci/find-python) || exit 1; \
	  if [ ! -x $(PY) ]; then echo "Creating $(VENV) with $$PYBIN"; $$PYBIN -m venv $(VENV) || exit 1; fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/bayesresp demo

# Two pytest workers (pytest-xdist), a test file each at a time: most of a test's time is
# single-threaded (compiling, building models, summaries), so two workers fill two cores;
# the shipped fits are made once per run and shared through fit files (tests/conftest.py).
test: $(STAMP) browser
	$(PY) -m ruff check bayesresp tests docs
	$(PY) -m pytest -n 2 --dist loadfile

# A headless Chromium for the report's browser test: installed when missing and root
# (apt-get), otherwise the test says why it is skipped.
browser:
	@sh .ci/install-browser

lint: $(STAMP)
	$(PY) -m ruff check bayesresp tests docs
	$(PY) -m ruff format --check bayesresp tests docs

# Regenerate the human-readable codebook from data_schema/codebook.json.
codebook: $(STAMP)
	$(VENV)/bin/bayesresp codebook --markdown --out data_schema/CODEBOOK.md

# Regenerate the embedded example data set (byte-identical for the fixed seed).
example: $(STAMP)
	$(VENV)/bin/bayesresp simulate --missions 12 --rows 2000 --seed 20231 \
	  --out bayesresp/data/example.csv --truth bayesresp/data/example_truth.json

# Speed measurements (not tests): see benchmarks/README.md. The peers (bambi, Stan,
# statsmodels) come from the 'bench' extra. Pass options with BENCH_ARGS, e.g.
# `make bench BENCH_ARGS=--quick` for a smoke run that leaves the README alone; then the
# paper's model on the kernel against PyMC's graph (FULL_ARGS, by default writing its
# table into benchmarks/README.md; FULL_ARGS="--draws 200" for a smoke run); then real
# data at default settings, the gradient's cost per link and the centring grid
# (TABLE_ARGS, by default writing their tables; TABLE_ARGS= to leave the README alone).
BENCH_STAMP := $(VENV)/.bench-stamp
BENCH_ARGS  ?=
FULL_ARGS   ?= --readme
TABLE_ARGS  ?= --readme

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(PY) benchmarks/fit_speed.py $(BENCH_ARGS)
	$(PY) benchmarks/full_kernel.py $(FULL_ARGS)
	$(PY) benchmarks/full_kernel.py --spec hierarchical --family sratio $(FULL_ARGS)
	$(PY) benchmarks/real_data.py $(TABLE_ARGS)
	$(PY) benchmarks/gradient_cost.py $(TABLE_ARGS)
	$(PY) benchmarks/centring_grid.py $(TABLE_ARGS)

# The documentation site (docs/README.md): docs/_build/html/index.html opens from disk,
# without a network. Warnings are errors; the notebooks run with the package's default
# settings when they changed since the last build (MyST-NB's cache); then the site's
# browser test (tests/docs) reads the built pages. Not part of `make test`.
DOCS_STAMP := $(VENV)/.docs-stamp
DOCS_OUT   := docs/_build/html

$(DOCS_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,docs]'
	@touch $(DOCS_STAMP)

docs: $(DOCS_STAMP) browser
	$(PY) -m sphinx -W --keep-going -b html docs $(DOCS_OUT)
	BAYESRESP_DOCS_SITE=$(DOCS_OUT) BAYESRESP_REQUIRE_BROWSER=1 \
	  $(PY) -m pytest -q -p no:cacheprovider -n 0 tests/docs

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache docs/_build docs/generated
