# The README's two commands: `make demo` and `make test`. Both build .venv first.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint codebook example bench clean

$(STAMP): pyproject.toml
	@PYBIN=$$(sh .ci/find-python) || exit 1; \
	  if [ ! -x $(PY) ]; then echo "Creating $(VENV) with $$PYBIN"; $$PYBIN -m venv $(VENV) || exit 1; fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/bayesresp demo

test: $(STAMP)
	$(PY) -m ruff check bayesresp tests
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check bayesresp tests
	$(PY) -m ruff format --check bayesresp tests

# Regenerate the human-readable codebook from data_schema/codebook.json.
codebook: $(STAMP)
	$(VENV)/bin/bayesresp codebook --markdown --out data_schema/CODEBOOK.md

# Regenerate the embedded example data set (byte-identical for the fixed seed).
example: $(STAMP)
	$(VENV)/bin/bayesresp simulate --missions 12 --rows 2000 --seed 20231 \
	  --out bayesresp/data/example.csv --truth bayesresp/data/example_truth.json

# Speed measurements (not tests): see benchmarks/README.md.
bench: $(STAMP)
	$(PY) benchmarks/whatif_throughput.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
