# The project's interface: CI and the README only call these targets.
# Every target that needs Python creates .venv from uv.lock first, so a fresh clone needs no other step.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Lambda runs Python 3.12: use pyenv's 3.12 when it exists (sam build looks for python3.12 on PATH).
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo $$HOME/.pyenv)
PY312_BIN := $(lastword $(sort $(wildcard $(PYENV_ROOT)/versions/3.12*/bin)))
export PATH := $(if $(PY312_BIN),$(PY312_BIN):)$(PATH)

VENV := .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.9
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))
export UV_PYTHON_DOWNLOADS := never
export PYTHONPATH := $(abspath layers/core):$(abspath .)
export SAM_CLI_TELEMETRY := 0

PYTEST_ARGS ?=
EVENT ?=
MODE ?= Enforce
# V=1 shows the handler's logs and metrics, the sandbox's INFO logs and stack traces (-v).
VERBOSE := $(if $(filter-out 0,$(V)),-v)

.PHONY: help dev lint format test test-unit test-integration e2e replay demo bench build clean \
	lint-template layer-requirements package deploy iam-manifest

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

# Bytecode is compiled at install: these machines set PYTHONDONTWRITEBYTECODE, so nothing would cache it.
# Set-up output goes to stderr so that `make -s replay` prints exactly one JSON document on stdout.
$(VENV)/.synced: pyproject.toml uv.lock
	@test -x $(PY) || python3.12 -m venv $(VENV) >&2
	@$(PY) -m pip install -q --disable-pip-version-check uv==$(UV_VERSION) >&2
	@$(VENV)/bin/uv sync --frozen --inexact --compile-bytecode --extra cli --python $(PY) -q >&2
	@touch $@

dev: $(VENV)/.synced ## create or update the virtual environment from uv.lock

lint: $(VENV)/.synced ## ruff, ruff format --check, mypy --strict, sam validate --lint, cfn-lint on the inlined definition
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy layers/core/audit_remediator functions
	$(VENV)/bin/mypy --strict sandbox tools bench remediator_cli
	$(VENV)/bin/sam validate --lint --template template.yaml
	@mkdir -p build
	$(PY) -m tools.inline_definition template.yaml > build/template.inlined.json
	$(VENV)/bin/cfn-lint build/template.inlined.json
	@$(MAKE) --no-print-directory lint-template

format: $(VENV)/.synced ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The e2e suite runs against the sandbox here: STACK_NAME and ENFORCE from the environment must not
# turn an offline run into one against a real account.
test: $(VENV)/.synced ## unit, integration and e2e suites, all offline (the e2e suite in the sandbox)
	env -u STACK_NAME -u ENFORCE $(PY) -m pytest tests/unit tests/integration tests/e2e -n 2 $(PYTEST_ARGS)

iam-manifest: $(VENV)/.synced ## rerun the IAM scenarios and rewrite the permissions manifest the mutation tests use
	$(PY) -m tests.integration.iam.manifest

test-unit: $(VENV)/.synced ## the unit suite alone (PYTEST_ARGS=... passed to pytest)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-integration: $(VENV)/.synced ## the integration suite alone, the sandbox included (PYTEST_ARGS=...)
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)

e2e: $(VENV)/.synced ## audit a throw-away fleet end to end: in the sandbox, or STACK_NAME=... [AWS_PROFILE=...] [ENFORCE=1]
	$(PY) -m pytest tests/e2e $(PYTEST_ARGS)

replay: $(VENV)/.synced ## run EVENT=events/... through the real handler in the sandbox (MODE=Enforce|DryRun, V=1)
	@test -n "$(EVENT)" || { echo "usage: make -s replay EVENT=events/audit_events/<case>.json [MODE=DryRun] [V=1]" >&2; exit 2; }
	@$(PY) -m sandbox replay $(VERBOSE) --mode "$(MODE)" "$(EVENT)"

demo: $(VENV)/.synced ## deploy into the sandbox, audit the workshop fleet, show what the workflow changed (V=1)
	@$(PY) -m sandbox demo $(VERBOSE)

bench: $(VENV)/.synced ## benchmarks (figures on stdout, JSON under bench/results/)
	$(PY) -m bench

clean: ## remove the virtual environment and build output
	rm -rf $(VENV) $(CHECKOV_VENV) build .aws-sam .mypy_cache .ruff_cache .pytest_cache .hypothesis

# checkov pins a boto3 that aws-sam-cli's cannot share, so it lives in its own locked environment.
CHECKOV_VENV := .venv-checkov
LAYER_REQUIREMENTS := layers/core/requirements.txt
UV_EXPORT_LAYER := $(VENV)/bin/uv export --frozen --no-dev --no-emit-project --no-header --format requirements-txt -q

$(CHECKOV_VENV)/.synced: tools/checkov/pyproject.toml tools/checkov/uv.lock
	@test -x $(CHECKOV_VENV)/bin/python || python3.12 -m venv $(CHECKOV_VENV) >&2
	@$(CHECKOV_VENV)/bin/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION) >&2
	@UV_PROJECT_ENVIRONMENT=$(abspath $(CHECKOV_VENV)) $(CHECKOV_VENV)/bin/uv sync --frozen \
		--project tools/checkov --python $(CHECKOV_VENV)/bin/python -q >&2
	@touch $@

lint-template: $(VENV)/.synced $(CHECKOV_VENV)/.synced ## serverless rules, checkov (as written and as translated), layer pins
	$(VENV)/bin/cfn-lint template.yaml --append-rules cfn_lint_serverless.rules
	@mkdir -p build
	$(PY) -m tools.sam_template template.yaml > build/template.translated.json
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation \
		-f template.yaml -f build/template.translated.json
	@$(UV_EXPORT_LAYER) | diff -u $(LAYER_REQUIREMENTS) - \
		|| { echo "$(LAYER_REQUIREMENTS) is out of date with uv.lock: run make layer-requirements" >&2; exit 1; }

layer-requirements: $(VENV)/.synced ## rewrite layers/core/requirements.txt from uv.lock's runtime dependencies
	$(UV_EXPORT_LAYER) -o $(LAYER_REQUIREMENTS)

build: $(VENV)/.synced ## stack names checked, sam build for arm64 with Python 3.12 (no container), layer and sizes checked
	$(PY) -m tools.stack_names
	$(VENV)/bin/sam build --template template.yaml
	$(PY) -m tools.artifacts check
	$(PY) -m tools.artifacts sizes

CONFIG_ENV ?= default
STACK_NAME ?=
DEPLOY_ARGS ?=
deploy: $(VENV)/.synced ## check the stack name, build, sam deploy (CONFIG_ENV=default|prod, STACK_NAME=..., DEPLOY_ARGS=...)
	$(PY) -m tools.stack_names $(if $(STACK_NAME),--stack-name "$(STACK_NAME)")
	@$(MAKE) --no-print-directory build
	$(VENV)/bin/sam deploy --config-env "$(CONFIG_ENV)" $(if $(STACK_NAME),--stack-name "$(STACK_NAME)") $(DEPLOY_ARGS)

package: build ## the zip files Lambda receives (build/package/), with their sizes
	$(PY) -m tools.artifacts zip
