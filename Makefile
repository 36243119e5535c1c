# kdscope: two quick-start commands, `make demo` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= kdscope-out
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1
export MPLBACKEND ?= Agg

.PHONY: setup demo test test-all bench clean

$(BIN)/kdscope: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q -U pip setuptools wheel
	$(BIN)/pip install -q -e ".[dev,torch,dask,jax]"
	touch $@

setup: $(BIN)/kdscope

demo: setup
	$(BIN)/kdscope demo --out $(OUT)

test: setup
	$(BIN)/python -m pytest -q -m "not slow" tests

test-all: setup
	$(BIN)/python -m pytest -q tests

bench: setup
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
