# Every target installs what it needs: uv if missing, then the locked environment.
UV := $(or $(shell command -v uv 2>/dev/null),$(HOME)/.local/bin/uv)
RUN := $(UV) run --frozen
DATA ?= ../shared/data/Churn_Modelling.csv
PORT ?= 5001

.PHONY: setup train requirements serve test lint bench load

setup: .venv/.synced

$(UV):
	python3 -m pip install --user --quiet uv

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen
	touch $@

train: setup
	$(RUN) python -m training --data $(DATA)

# The image and the AzureML environment install this export of the locked `serve` group.
requirements: setup
	$(UV) export --frozen --only-group serve --no-hashes --no-header --no-annotate \
		--no-emit-project -o scoring/requirements.txt

lint: setup
	$(RUN) ruff check .
	$(RUN) ruff format --check .

test: lint
	$(RUN) pytest

# Load test on loopback: original entry script vs ours, then a soak (LOAD_ARGS="--help" for options).
# wrk comes from the distribution when missing.
load: setup
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(RUN) python -m load.run $(LOAD_ARGS)
