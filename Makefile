# Every target installs what it needs: uv if missing (into .tools/, a virtualenv of its own, so
# that no system Python is touched), then the locked environment. `make` alone lists the targets.
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
RUN := $(UV) run --frozen
# The project's tools (uv) on PATH for every recipe, whatever the calling shell has.
export PATH := $(CURDIR)/.tools/bin:$(PATH)

DATA ?= ../shared/data/Churn_Modelling.csv
HOST ?= 127.0.0.1
PORT ?= 5001
STACK ?= dev
STACKS := $(patsubst Pulumi.%.yaml,%,$(wildcard Pulumi.*.yaml))

# Bad settings stop make before any work, in one line naming what is accepted.
PORT_OK := $(shell [ '$(PORT)' -ge 1 ] 2>/dev/null && [ '$(PORT)' -le 65535 ] && echo ok)
ifneq ($(filter serve serve-proxy client,$(MAKECMDGOALS)),)
$(if $(PORT_OK),,$(error PORT=$(PORT) is not a port: give a number from 1 to 65535))
endif
ifneq ($(filter plan cost,$(MAKECMDGOALS)),)
$(if $(filter $(STACK),$(STACKS)),,$(error STACK=$(STACK) is not a stack of this project; its stacks: $(STACKS)))
endif

.DEFAULT_GOAL := help
.PHONY: help setup train requirements swagger serve client test lint bench load plan plan-update cost
.PHONY: serve-proxy drift

help: ## this list
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "  settings: PORT=$(PORT) HOST=$(HOST) STACK=$(STACK) DATA=$(DATA)"

setup: .venv/.synced ## uv (into .tools/ if missing) and the locked environment; first run ~1 min

$(UV):
	python3 -m venv .tools && .tools/bin/pip install --quiet uv

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen
	touch $@

train: setup ## retrain model_artifacts/ from DATA (Churn_Modelling.csv), ~10 s
	$(RUN) python -m training --data $(DATA)

# The image and the AzureML environment install this export of the locked `serve` group.
requirements: setup ## re-export scoring/requirements.txt from uv.lock
	$(UV) export --frozen --only-group serve --no-hashes --no-header --no-annotate \
		--no-emit-project -o scoring/requirements.txt

# GET /swagger.json serves this file; regenerate it after training.
swagger: setup ## regenerate scoring/swagger2.json after training
	$(RUN) python -m scoring.swagger model_artifacts > scoring/swagger2.json.tmp \
		|| { rm -f scoring/swagger2.json.tmp; exit 1; }
	mv scoring/swagger2.json.tmp scoring/swagger2.json

# The server reads the model's name and version from its folder's path, as AzureML mounts it
# (azureml-models/<name>/<version>), for its telemetry; a plain folder makes it log a traceback.
MODEL_VERSION := $(shell sed -n 's/^  "version": \([0-9]*\),$$/\1/p' model_artifacts/manifest.json)
MODEL_MOUNT := build/models/churn-xgb/$(MODEL_VERSION)

# The scoring service, served by AzureML's server as in the images. With CHURN_SCORING_KEY set it
# requires that key; without, the key check is explicitly off.
serve: setup ## the scoring service on http://HOST:PORT (127.0.0.1:5001); Ctrl-C stops it
	@mkdir -p $(dir $(MODEL_MOUNT)) && ln -sfn $(CURDIR)/model_artifacts $(MODEL_MOUNT)
	@echo "serving http://$(HOST):$(PORT)/score, key $(if $(CHURN_SCORING_KEY),required,check off); Ctrl-C stops"
	@AML_APP_ROOT=$(CURDIR)/scoring $(if $(CHURN_SCORING_KEY),,CHURN_REQUIRE_KEY=false) \
		$(RUN) python -m load.loopback $(HOST) \
		--entry_script scoring/score.py --model_dir $(MODEL_MOUNT) --port $(PORT)

# The key, if any, comes from CHURN_SCORING_KEY; ARGS="--csv customers.csv", ARGS=--help, ...
client: setup ## score the sample customer against make serve (ARGS="--csv FILE", ARGS=--help)
	@$(RUN) python -m scoring.client $(if $(filter --endpoint% --stack%,$(ARGS)),,--endpoint http://127.0.0.1:$(PORT)/score) $(ARGS)

# `make serve` behind the proxy that dev runs (proxy/Caddyfile): Caddy on localhost:$(PORT) buffers
# each request before azmlinfsrv on port $(UPSTREAM_PORT) sees it. Plain HTTP on this machine.
UPSTREAM_PORT ?= 5002
serve-proxy: setup ## make serve behind the dev proxy (Caddy on PORT, azmlinfsrv on UPSTREAM_PORT)
	AML_APP_ROOT=$(CURDIR)/scoring $(if $(CHURN_SCORING_KEY),,CHURN_REQUIRE_KEY=false) \
		$(RUN) python -m proxy --port $(PORT) --upstream-port $(UPSTREAM_PORT)

# In-process run() and HTTP requests/s: the original entry script beside ours.
bench: setup ## the original entry script beside ours, in-process and over HTTP, ~3 min
	$(RUN) python -m bench

lint: setup ## ruff, ruff format, basedpyright, actionlint
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) basedpyright
	$(RUN) actionlint
	$(RUN) hadolint scoring/Dockerfile

# The retraining tests read DATA too; without the CSV they skip (CI=true: fail).
test: lint ## lint and the whole offline test suite (what CI runs), ~7 min
	CHURN_DATA=$(abspath $(DATA)) $(RUN) pytest

# Load test on loopback: original entry script vs ours, then a soak (LOAD_ARGS="--help" for options).
# wrk comes from the distribution when missing.
load: setup ## load test with wrk, then a 60 s memory soak, ~3 min (LOAD_ARGS=--help)
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(RUN) python -m load.run $(LOAD_ARGS)

plan: setup ## what STACK declares, offline: a summary (FULL=1: every input)
	@$(RUN) python -m infra.plan $(STACK) $(if $(FULL),--full)

# Refreshes the committed snapshots plan/*.txt (dev, prod, prod during a rollout) that the tests compare against.
plan-update: setup ## refresh plan/*.txt after an intended infra change
	$(RUN) python -m infra.plan dev --write >/dev/null
	$(RUN) python -m infra.plan prod --write >/dev/null
	$(RUN) python -m infra.plan prod-rollout --write >/dev/null

cost: setup ## STACK's monthly list price from the Azure Retail Prices API (needs network)
	$(RUN) python -m tools.cost $(STACK)

# Captured rows against the training rows: a PSI table, CAPTURES/drift.html, exit 1 on an alert.
# DRIFT_ARGS="--stack dev" (or prod) downloads that stack's captures into CAPTURES first.
drift: setup ## captures vs training rows: PSI table, CAPTURES/drift.html (CAPTURES=dir)
	$(if $(CAPTURES),,$(error set CAPTURES to a folder of captures: make drift CAPTURES=dir))
	$(RUN) python -m tools.drift $(CAPTURES) $(DRIFT_ARGS)
