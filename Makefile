# trailguard: every target sets itself up; `make setup` is idempotent and quick when nothing changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.stamp-python
NODE_STAMP := node_modules/.stamp-node
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.stamp-checkov

# Quiet, offline CDK: no Node end-of-life banner, no version check.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_VERSION_CHECK := 1

.PHONY: setup test lint demo bench synth clean

setup: $(PY_STAMP) $(NODE_STAMP) $(CHECKOV_STAMP)

$(PY_STAMP): requirements.txt requirements-dev.txt handlers/requirements.txt pyproject.toml dev/pyproject.toml
	@echo "==> Python: creating $(VENV) and installing pinned dependencies (about a minute the first time)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.8 2>/dev/null \
		|| $(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.8
	@$(BIN)/uv pip install --python $(BIN)/python --quiet --compile-bytecode -r requirements-dev.txt -e . -e dev
	@touch $@

$(CHECKOV_STAMP): requirements-checkov.txt $(PY_STAMP)
	@echo "==> checkov: a virtualenv of its own (it pins boto3), for the template scan"
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	@$(BIN)/uv pip install --python $(CHECKOV_VENV)/bin/python --quiet -r requirements-checkov.txt
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	@echo "==> Node: installing the pinned AWS CDK CLI"
	@npm ci --no-audit --no-fund --loglevel=error
	@touch $@

lint: $(PY_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@echo "==> mypy, strict (up to two minutes the first time, seconds once cached)"
	$(BIN)/mypy

# Three workers, a test file each at a time: most of the suite waits (on the emulator, on retries the
# fault suite makes happen), so the workers overlap even on two cores.
test: setup lint
	$(BIN)/pytest -n 3 --dist loadfile

demo: $(PY_STAMP)
	$(BIN)/trailguard demo

bench: $(PY_STAMP)
	$(BIN)/python -m trailguard_dev.bench

synth: setup
	node_modules/.bin/cdk synth --quiet

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) node_modules cdk.out .pytest_cache .mypy_cache .ruff_cache *.egg-info
