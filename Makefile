# Every target installs what it needs: uv if missing (into .tools/, a virtualenv of its own, so
# that no system Python is touched), then the locked environment.
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
RUN := $(UV) run --frozen
DATA ?= ../shared/data/Churn_Modelling.csv
PORT ?= 5001

.PHONY: setup train requirements swagger serve test lint bench load plan plan-update cost
.PHONY: drift

setup: .venv/.synced

$(UV):
	python3 -m venv .tools && .tools/bin/pip install --quiet uv

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen
	touch $@

train: setup
	$(RUN) python -m training --data $(DATA)

# The image and the AzureML environment install this export of the locked `serve` group.
requirements: setup
	$(UV) export --frozen --only-group serve --no-hashes --no-header --no-annotate \
		--no-emit-project -o scoring/requirements.txt

# GET /swagger.json serves this file; regenerate it after training.
swagger: setup
	$(RUN) python -m scoring.swagger model_artifacts > scoring/swagger2.json.tmp \
		|| { rm -f scoring/swagger2.json.tmp; exit 1; }
	mv scoring/swagger2.json.tmp scoring/swagger2.json

# The scoring service on localhost:$(PORT), served by AzureML's server as in the images. With
# CHURN_SCORING_KEY set it requires that key; without, the key check is explicitly off.
serve: setup
	AML_APP_ROOT=$(CURDIR)/scoring $(if $(CHURN_SCORING_KEY),,CHURN_REQUIRE_KEY=false) \
		$(RUN) azmlinfsrv --entry_script scoring/score.py --model_dir model_artifacts --port $(PORT)

# `make serve` behind the proxy that dev runs (proxy/Caddyfile): Caddy on localhost:$(PORT) buffers
# each request before azmlinfsrv on port $(UPSTREAM_PORT) sees it. Plain HTTP on this machine.
UPSTREAM_PORT ?= 5002
.PHONY: serve-proxy
serve-proxy: setup
	AML_APP_ROOT=$(CURDIR)/scoring $(if $(CHURN_SCORING_KEY),,CHURN_REQUIRE_KEY=false) \
		$(RUN) python -m proxy --port $(PORT) --upstream-port $(UPSTREAM_PORT)

# In-process run() and HTTP requests/s: the original entry script beside ours.
bench: setup
	$(RUN) python -m bench

lint: setup
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) basedpyright
	$(RUN) actionlint
	$(RUN) hadolint scoring/Dockerfile

test: lint
	$(RUN) pytest

# Load test on loopback: original entry script vs ours, then a soak (LOAD_ARGS="--help" for options).
# wrk comes from the distribution when missing.
load: setup
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(RUN) python -m load.run $(LOAD_ARGS)

# The Pulumi program's resources for STACK (dev or prod), offline, from the same mocks as the tests.
STACK ?= dev
plan: setup
	$(RUN) python -m infra.plan $(STACK)

# Refreshes the committed snapshots plan/*.txt (dev, prod, prod during a rollout) that the tests compare against.
plan-update: setup
	$(RUN) python -m infra.plan dev --write >/dev/null
	$(RUN) python -m infra.plan prod --write >/dev/null
	$(RUN) python -m infra.plan prod-rollout --write >/dev/null

# Monthly list price of STACK at its configured sizes, from the public Azure Retail Prices API.
cost: setup
	$(RUN) python -m tools.cost $(STACK)

# Captured rows against the training rows: a PSI table, CAPTURES/drift.html, exit 1 on an alert.
# DRIFT_ARGS="--stack dev" (or prod) downloads that stack's captures into CAPTURES first.
drift: setup
	$(if $(CAPTURES),,$(error set CAPTURES to a folder of captures: make drift CAPTURES=dir))
	$(RUN) python -m tools.drift $(CAPTURES) $(DRIFT_ARGS)
