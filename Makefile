# Two commands are the contract: `make synth` and `make test`. Both set up everything they need from pinned packages:
# `make synth` only what synth needs (`make synth-setup`), `make test` the test tools too (`make setup`).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
NODE_BIN := $(CURDIR)/node_modules/.bin
NEWEST_BOTO3 := .deps/boto3-newest
WHEELHOUSE := .deps/wheelhouse
MINISTACK_VENV := .deps/ministack
# The runtime suite runs the asset on the newest Python that CI can run (AWS Lambda's python3.13); pyenv carries it.
# On a machine without it, that directory is not made and the suite says so and runs on the venv's Python.
PYTHON313 ?= $(firstword $(wildcard $(or $(PYENV_ROOT),$(HOME)/.pyenv)/versions/3.13*/bin/python3.13 /usr/local/bin/python3.13 /usr/bin/python3.13))
RUNTIME313 := .deps/runtime-py313
# The pinned Node.js (npm package node@22) must win over any system node: jsii and the CDK CLI run on it.
export PATH := $(NODE_BIN):$(BIN):$(PATH)
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
export CDK_DISABLE_VERSION_CHECK := 1
export CDK_DISABLE_CLI_TELEMETRY := true
export AWS_REGION ?= us-east-1
# The venv installs without compiling (compiling all of aws-cdk-lib is most of its install time); each module is
# compiled by its first import instead, so recipes must be allowed to write bytecode (some machines forbid it).
unexport PYTHONDONTWRITEBYTECODE

PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
PY_SYNTH_STAMP := $(VENV)/.installed-synth
NODE_SYNTH_STAMP := node_modules/.installed-synth
# The build requirement of the editable install (--no-build-isolation), and a wheel build's from the wheelhouse.
SETUPTOOLS := setuptools==80.9.0
DEPS_STAMP := .deps/.installed
MINISTACK_STAMP := $(MINISTACK_VENV)/.installed
RUNTIME313_STAMP := .deps/.runtime-py313
LOWEST_VENV := .deps/lowest
LOWEST_STAMP := $(LOWEST_VENV)/.installed
SETUP_STAMPS := $(PY_STAMP) $(NODE_STAMP) $(MINISTACK_STAMP) $(RUNTIME313_STAMP) $(DEPS_STAMP) $(LOWEST_STAMP)

.PHONY: setup synth-setup synth test test-fast test-reliability test-deploy test-slow test-rest test-lowest lint typecheck cfn-lint integ-update bench mutation mutation-again clean

# The installs are independent and mostly wait on the registry and the disk, so they run side by side; .deps only
# needs the project venv's pip, so it starts as soon as the venv exists.
setup:
	$(MAKE) --no-print-directory -j6 --output-sync=target $(SETUP_STAMPS)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# What `cdk synth` needs and nothing more, for a CI Synth step (examples/pipeline_app.py): the pinned runtime
# requirements and this package in the venv, and the CDK CLI on the pinned Node.js (package.json's dependencies).
# None of the test tools: requirements-dev.txt, integ-runner (npm's devDependencies), MiniStack, Python 3.13, .deps.
synth-setup: $(PY_SYNTH_STAMP) $(NODE_SYNTH_STAMP)

$(PY_SYNTH_STAMP): requirements.txt pyproject.toml setup.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-compile -r requirements.txt $(SETUPTOOLS)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

$(PY_STAMP): requirements-dev.txt $(PY_SYNTH_STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-compile -r requirements-dev.txt
	touch $@

# npm ci empties node_modules first, so each install leaves only its own stamps: a full install serves synth too.
$(NODE_SYNTH_STAMP): package.json package-lock.json
	npm ci --omit=dev --no-audit --no-fund --loglevel=error
	$(NODE_BIN)/node --version
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	$(NODE_BIN)/node --version
	touch $@ $(NODE_SYNTH_STAMP)

# Test-only inputs: the newest boto3 (no lookoutvision) for the runtime-independence test, and a wheelhouse of the
# pinned runtime requirements so the wheel test installs into a fresh venv without reaching a registry. The wheelhouse
# also holds setup.py's build requirements (setuptools, botocore, crhelper: an isolated wheel build installs them
# from it) and OTHER_CRHELPER, a release the package does not bundle, for a consumer venv that has it installed.
OTHER_CRHELPER := crhelper==2.0.11
$(DEPS_STAMP): requirements-newest-boto3.txt requirements.txt pyproject.toml Makefile | $(BIN)/python
	rm -rf $(NEWEST_BOTO3) $(WHEELHOUSE)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --target $(NEWEST_BOTO3) -r requirements-newest-boto3.txt
	$(BIN)/python -m pip download --quiet --disable-pip-version-check -d $(WHEELHOUSE) -r requirements.txt $(SETUPTOOLS)
	$(BIN)/python -m pip download --quiet --disable-pip-version-check --no-deps -d $(WHEELHOUSE) $(OTHER_CRHELPER)
	touch $@

# MiniStack for the end-to-end suite, in its own venv: it runs Lambda functions on this venv's interpreter and
# packages, so the venv holds nothing but its pins (requirements-ministack.txt). On Python 3.13 where there is one.
$(MINISTACK_STAMP): requirements-ministack.txt
	rm -rf $(MINISTACK_VENV)
	$(or $(PYTHON313),$(PYTHON)) -m venv $(MINISTACK_VENV)
	$(MINISTACK_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-ministack.txt
	$(MINISTACK_VENV)/bin/python --version
	touch $@

# awslambdaric and the newest boto3 for Python 3.13, the runtime suite's /var/runtime on that interpreter.
$(RUNTIME313_STAMP): requirements-newest-boto3.txt
	rm -rf $(RUNTIME313)
ifneq ($(PYTHON313),)
	$(PYTHON313) -m pip install --quiet --disable-pip-version-check --no-deps --root-user-action=ignore --target $(RUNTIME313) -r requirements-newest-boto3.txt
	echo $(PYTHON313) > $(RUNTIME313)/.python
else
	@echo "No Python 3.13 on this machine: the runtime suite will run the asset on $$($(BIN)/python --version)"
endif
	touch $@

# The lowest versions of the declared dependencies (requirements-lowest.txt) and the test runner, nothing else: the
# package itself is installed from its wheel by test-lowest, since it changes with every edit.
$(LOWEST_STAMP): requirements-lowest.txt requirements-dev.txt
	rm -rf $(LOWEST_VENV)
	$(PYTHON) -m venv $(LOWEST_VENV)
	$(LOWEST_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-compile \
		-r requirements-lowest.txt $$(grep -E '^pytest==' requirements-dev.txt)
	touch $@

synth: synth-setup
	cdk synth --quiet --no-notices --output cdk.out
	@ls cdk.out/*.template.json

lint: $(PY_STAMP)
	ruff check .
	ruff format --check .

typecheck: $(PY_STAMP)
	mypy constructs/cdk_lookoutvision_packaging lambda/cdk_lookoutvision_packaging_handler harness

cfn-lint: synth
	cfn-lint --config-file .cfnlintrc.yaml cdk.out/*.template.json

# The checks and four parts of the suite are independent, so they run side by side, which on two cores keeps both
# busy to the end: the suites on the synthesized asset under awslambdaric (one pytest session) and the deploys (the
# wheel in fresh venvs, the app on MiniStack) mostly wait on processes they started; the rest mostly computes, in two
# sessions (its tests marked slow, which drive the CDK CLI, and the others), since one pytest session uses one core. Each part starts once the installs it needs are done, so on a
# clean clone the checks and the rest overlap the last installs. cfn-lint on the synthesized templates is part of
# the suite (tests/app/test_app.py); `make cfn-lint` runs it alone.
RELIABILITY_SUITES := tests/runtime
DEPLOY_SUITES := tests/deploy

REST := $(addprefix --ignore=,$(RELIABILITY_SUITES) $(DEPLOY_SUITES))

test:
	$(MAKE) --no-print-directory -j8 --output-sync=target \
		lint typecheck test-reliability test-deploy test-slow test-rest test-lowest

test-reliability: $(PY_STAMP) $(NODE_STAMP) $(DEPS_STAMP) $(RUNTIME313_STAMP)
	pytest $(RELIABILITY_SUITES)

test-deploy: $(PY_STAMP) $(NODE_STAMP) $(DEPS_STAMP) $(MINISTACK_STAMP)
	pytest $(DEPLOY_SUITES)

test-slow: $(PY_STAMP) $(NODE_STAMP) $(DEPS_STAMP)
	pytest -m slow $(REST)

test-rest: $(PY_STAMP) $(NODE_STAMP) $(DEPS_STAMP)
	pytest -m "not slow" $(REST)

# The package at the lowest dependency versions it declares, as a consumer installs it: its wheel (built, like the
# wheel test's, from a copy of the source so that nothing is written into the tree) in the venv of
# requirements-lowest.txt, where the construct's own tests run (every option of the library) and the example apps and
# every README block synthesize (tests/construct/test_lowest_versions.py, tests/construct/test_readme.py). Not the
# cdk-nag tests (cdk-nag is a test tool, not in that venv) nor the integ snapshots (taken at the pinned newest CDK).
# The venv is made once (make setup); each run installs the current wheel.
LOWEST_SUITES := $(addprefix tests/construct/,test_lowest_versions.py test_readme.py test_construct.py \
	test_packaging_construct.py test_consumers.py)

test-lowest: $(LOWEST_STAMP) $(PY_STAMP) $(NODE_STAMP)
	rm -rf $(LOWEST_VENV)/src $(LOWEST_VENV)/dist
	mkdir -p $(LOWEST_VENV)/src
	git ls-files -z --cached --others --exclude-standard \
		| tar --null --files-from=- --ignore-failed-read -cf - | tar -xf - -C $(LOWEST_VENV)/src
	$(BIN)/python -m pip wheel --quiet --disable-pip-version-check --no-deps --no-build-isolation \
		--wheel-dir $(LOWEST_VENV)/dist $(LOWEST_VENV)/src
	$(LOWEST_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-compile \
		--force-reinstall $(LOWEST_VENV)/dist/*.whl
	LOWEST_VERSIONS=1 $(LOWEST_VENV)/bin/python -m pytest -p no:cacheprovider $(LOWEST_SUITES)

# The loop while editing: every layer that runs in process (a new test file lands in it by its folder), less the tests
# marked slow (the CDK CLI). No wheel or venv builds, MiniStack or runtime suite: `make test` runs those too, and is
# what CI runs.
FAST_LAYERS := unit protocol construct cli app benchmark

test-fast: $(PY_STAMP) $(NODE_STAMP)
	pytest -q -m "not slow" $(addprefix tests/,$(FAST_LAYERS))

# Rewrite the integ_*.py snapshots after an intended template change (make test compares against them).
integ-update: $(PY_STAMP) $(NODE_STAMP)
	INTEG_UPDATE=1 pytest tests/construct/test_integ_snapshots.py -k committed_snapshot

bench: setup
	python -m bench.run

# Mutation testing of the handler package, never part of `make test`: every mutant against the tests that `make
# test-rest` runs (neither slow nor a runtime or deploy suite) less those that wait out real time and the construct's,
# as far as they call the mutated function. Writes bench/MUTATION.md (the score, and the survivors explained) and
# build/mutation/survivors.md (the others, with their diffs); the run itself is in build/mutation. It takes more than an
# hour on two cores (see bench/mutation.py); MUTATION_MINUTES=N stops it after N minutes and reports what it checked.
MUTATION_STAMP := $(VENV)/.mutation-installed
MUTATION_MINUTES ?=

$(MUTATION_STAMP): requirements-mutation.txt $(PY_STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-compile -r requirements-mutation.txt
	touch $@

mutation: $(PY_STAMP) $(NODE_STAMP) $(DEPS_STAMP) $(MUTATION_STAMP)
	python -m bench.mutation $(if $(MUTATION_MINUTES),--minutes $(MUTATION_MINUTES)) -- -m "not slow and not wall_clock" $(REST)

# Once tests are written for the survivors: only those mutants again, against the tests as they are now, in minutes,
# and the report rewritten (the last run's stage and figures are kept).
mutation-again: $(MUTATION_STAMP)
	python -m bench.mutation --again

clean:
	rm -rf $(VENV) node_modules .deps cdk.out dist build *.egg-info
