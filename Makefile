# `make demo` and `make test` each set up .venv from scratch when it is missing; nothing else is
# needed on a fresh machine. Variables: PYTHON (the interpreter that creates the venv), VENV,
# PYTEST_ARGS (for example PYTEST_ARGS="-k registry -x"), PYTEST_WORKERS (parallel test processes,
# pytest-xdist; 0 runs the tests in one process).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.lit_nn-installed
PYTEST_ARGS ?=
PYTEST_WORKERS ?= 2

.PHONY: demo test install pytest lint bench clean gpu-prep gpu-check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

PLUGINS := plugins/lit-nn-extras

# Reinstall when the package metadata changes. The example plugin is installed too, so its entry
# point is live and its tests run with the suite.
$(STAMP): pyproject.toml $(PLUGINS:%=%/pyproject.toml) | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]' $(PLUGINS:%=-e %)
	touch $@

install: $(STAMP)

demo: install
	$(BIN)/lit-nn fit -c configs/digits.yaml --test true

test: install
	@$(MAKE) --no-print-directory pytest

# pytest exits 5 when it collects nothing: say so plainly, so an empty run is neither taken for
# a pass (exit 0) nor for failing tests (exit 1); the recipe keeps status 5 (make: "Error 5").
pytest:
	@$(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then \
	  echo "make test: pytest collected no tests (exit 5): nothing ran, so nothing passed or failed; check PYTEST_ARGS='$(PYTEST_ARGS)'" >&2; \
	fi; \
	exit $$status

# Performance benchmarks (about 8 minutes on 2 CPUs); rewrites docs/performance.md.
bench: install
	$(BIN)/python benchmarks/performance.py

# The GPU check (docs/performance.md, "GPU check"). gpu-prep runs here, with the network: the wheels
# the GPU machine lacks (for its Python, GPU_PYTHON_VERSION; manylinux x86_64) and lit_nn's own, into
# .gpu/wheels. gpu-check runs on the GPU machine, with GPU_PYTHON the interpreter that holds its PyTorch:
# it installs those wheels beside it and runs every check within about 5 minutes (figures in
# benchmarks/results/gpu.json); without a CUDA GPU it says so in one line and exits 0. Neither needs .venv;
# GPU_ARGS passes options (GPU_ARGS="--only tests,throughput"; benchmarks/gpu.py --help).
GPU_PYTHON ?= $(if $(wildcard $(BIN)/python),$(BIN)/python,python3)
GPU_PYTHON_VERSION ?= 3.12
GPU_ARGS ?=

gpu-prep:
	$(PYTHON) benchmarks/gpu.py --prepare --python-version $(GPU_PYTHON_VERSION)

gpu-check:
	@$(GPU_PYTHON) benchmarks/gpu.py $(GPU_ARGS)

lint: install
	$(BIN)/ruff check lit_nn tests benchmarks plugins
	$(BIN)/ruff format --check lit_nn
	$(BIN)/python -m mypy lit_nn

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
