# logpipe — every target makes its own virtual environment; nothing is needed but python3, pip and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: all venv test pytest check demo package checkov clean bench-throughput bench-latency bench-cost bench-send-memory bench-retention canary

all: test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# checkov pins an old boto3 and ships bc-python-hcl2, whose `hcl2` module clashes with python-hcl2:
# it gets a virtual environment of its own.
$(CHECKOV_STAMP):
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet checkov==3.3.30
	touch $(CHECKOV_STAMP)

venv: $(STAMP)

check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

pytest: $(STAMP) $(CHECKOV_STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

test: check pytest

# One reproducible zip per Lambda in build/lambda/ (infra/terraform/env/dev.tfvars points at them), with
# orjson, google-re2 and isal built for LAMBDA_ARCHITECTURE (Terraform's lambda_architecture: keep them the
# same). Wheels are downloaded once into build/wheels/ (pip, from the venv).
LAMBDA_ARCHITECTURE ?= arm64
package: $(STAMP)
	$(BIN)/python infra/package_lambdas.py --out build/lambda --architecture $(LAMBDA_ARCHITECTURE)

# Also run by `make test` (tests/infra/test_infra_checkov.py); this prints checkov's own report.
checkov: $(CHECKOV_STAMP)
	$(CHECKOV_VENV)/bin/checkov -d infra/terraform --skip-download --quiet --compact

demo: $(STAMP)
	$(BIN)/python examples/demo.py

# Benchmarks (outside CI; `make test` runs each on a small N). Extra flags: make bench-throughput ARGS="--records 200000"
bench-throughput: $(STAMP)
	$(BIN)/python bench/throughput.py $(ARGS)

bench-latency: $(STAMP)
	$(BIN)/python bench/latency.py $(ARGS)

bench-cost: $(STAMP)
	$(BIN)/python bench/cost.py $(ARGS)

bench-send-memory: $(STAMP)
	$(BIN)/python bench/send_memory.py $(ARGS)

bench-retention: $(STAMP)
	$(BIN)/python bench/retention.py $(ARGS)

# The canary soak: make canary ARGS="--minutes 10"
canary: $(STAMP)
	$(BIN)/python bench/canary.py $(ARGS)

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) build dist .pytest_cache .mypy_cache .ruff_cache
