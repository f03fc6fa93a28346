# Two commands are the contract: `make synth` and `make test`. Both set up everything they need from pinned packages.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
NODE_BIN := $(CURDIR)/node_modules/.bin
NEWEST_BOTO3 := .deps/boto3-newest
WHEELHOUSE := .deps/wheelhouse
# The pinned Node.js (npm package node@22) must win over any system node: jsii and the CDK CLI run on it.
export PATH := $(NODE_BIN):$(BIN):$(PATH)
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
export CDK_DISABLE_VERSION_CHECK := 1
export CDK_DISABLE_CLI_TELEMETRY := true
export AWS_REGION ?= us-east-1

PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
DEPS_STAMP := .deps/.installed

.PHONY: setup synth test lint typecheck cfn-lint bench clean

setup: $(PY_STAMP) $(NODE_STAMP) $(DEPS_STAMP)

$(PY_STAMP): requirements.txt requirements-dev.txt pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	$(NODE_BIN)/node --version
	touch $@

# Test-only inputs: the newest boto3 (no lookoutvision) for the runtime-independence test, and a wheelhouse of the
# pinned runtime requirements so the wheel test installs into a fresh venv without reaching a registry. The wheelhouse
# also holds setup.py's build requirements (setuptools, botocore, crhelper: an isolated wheel build installs them
# from it) and OTHER_CRHELPER, a release the package does not bundle, for a consumer venv that has it installed.
OTHER_CRHELPER := crhelper==2.0.11
$(DEPS_STAMP): requirements-newest-boto3.txt requirements.txt pyproject.toml Makefile
	rm -rf $(NEWEST_BOTO3) $(WHEELHOUSE)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --target $(NEWEST_BOTO3) -r requirements-newest-boto3.txt
	$(BIN)/python -m pip download --quiet --disable-pip-version-check -d $(WHEELHOUSE) -r requirements.txt setuptools==80.9.0
	$(BIN)/python -m pip download --quiet --disable-pip-version-check --no-deps -d $(WHEELHOUSE) $(OTHER_CRHELPER)
	touch $@

synth: $(PY_STAMP) $(NODE_STAMP)
	cdk synth --quiet --no-notices --output cdk.out
	@ls cdk.out/*.template.json

lint: $(PY_STAMP)
	ruff check .
	ruff format --check .

typecheck: $(PY_STAMP)
	mypy constructs/cdk_lookoutvision_packaging
	cd lambda/model_packaging_job && mypy --config-file ../../pyproject.toml --cache-dir ../../.mypy_cache index.py custom_resource.py packaging_job.py

cfn-lint: synth
	cfn-lint --config-file .cfnlintrc.yaml cdk.out/*.template.json

test: setup lint typecheck cfn-lint
	pytest

bench: setup
	python -m bench.run

clean:
	rm -rf $(VENV) node_modules .deps cdk.out dist build *.egg-info
