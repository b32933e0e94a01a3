# The project's commands. `make help` lists them; `make predict` and `make test` set everything up.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
SHARED := ../shared/data

# project path <- path under ../shared/data
DATA_MAP := \
	train/user_train.csv=clickstream/train/user_train.csv \
	train/session_train.csv=clickstream/train/session_train.csv \
	test/user_test.csv=clickstream/test/user_test.csv \
	test/session_test.csv=clickstream/test/session_test.csv \
	data/ctr/ad_10000records.csv=ctr/ad_10000records.csv \
	data/campaigns/KAG_conversion_data.csv=campaigns/KAG_conversion_data.csv \
	data/profiles/user_profiles_for_ads.csv=profiles/user_profiles_for_ads.csv

.PHONY: help setup data features train predict validate test lint format clean task segments conversion tune roas ctr bench bench-exports report report-load dashboard serve loadtest loadtest-explore image kube-check faults

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

setup: $(STAMP) ## Create .venv and install the pinned requirements (once)

data: ## Copy the reference data from ../shared/data (files already there are kept)
	@for pair in $(DATA_MAP); do \
		dest=$${pair%%=*}; src=$(SHARED)/$${pair#*=}; \
		if [ -f "$$dest" ]; then continue; fi; \
		if [ ! -f "$$src" ]; then echo "error: $$dest is missing and $$src does not exist" >&2; exit 1; fi; \
		mkdir -p "$$(dirname "$$dest")" && cp "$$src" "$$dest" && chmod u+w "$$dest" && echo "copied $$src -> $$dest"; \
	done

features: setup data ## Write the ClickStream per-user feature tables to data/processed/
	$(PY) model.py features

train: setup data ## Fit the ClickStream model on train/ and save it to models/
	$(PY) model.py train

predict: setup data ## Train, then write predictions/predictions.json for every test user
	$(PY) model.py predict

validate: setup data ## Local macro-F1: 5x5 repeated stratified K-fold vs a majority baseline
	$(PY) model.py validate

# `make tune` settings: the study's total trials, the Optuna storage URL and the study name.
TRIALS ?= 100
STORAGE ?= sqlite:///optuna.db
STUDY ?= clickstream

tune: setup data ## Optuna search for macro-F1 (TRIALS=100, STORAGE=sqlite:///optuna.db); resumable
	$(PY) model.py tune --trials $(TRIALS) --storage '$(STORAGE)' --study '$(STUDY)'

# A task's full run is its own list of commands (adpipe/<task>/__init__.py, `python model.py tasks list`):
# `make task NAME=<task>` runs any task's; the sibling tasks have a shortcut each.
task: setup data ## Run a task's full commands: make task NAME=ctr (python model.py tasks list names them)
	$(PY) model.py tasks make $(NAME)

ctr: setup data ## Click-through: seed forest; forward vs random folds, baselines, audit; nested search; candidates; held-out export; train
	$(PY) model.py tasks make ctr
roas: setup data ## ROAS and funnel validation, where-to-spend summaries, response curves, the budget plan and its back-test
	$(PY) model.py tasks make roas
segments: setup data ## Segment profiles and ClickStream users (per-k scores, stability, verdict) and profile them
	$(PY) model.py tasks make segments
conversion: setup data ## Conversion-rate models vs a mean baseline, permutation test; saves the model or the baseline
	$(PY) model.py tasks make conversion

bench: setup data ## Feature build + predict at 1e5/1e6/1e7 sessions vs the parse floor, DuckDB and pandas -> reports/bench.json (~15 min)
	$(PY) model.py bench run

bench-exports: setup ## Read a 1e6-row campaign export in each format through its mapping vs plain CSV (docs/roas.md, "Formats"; ~15 min, most of it writing the workbook once into /tmp/adpipe-exports)
	$(PY) -m adpipe.bench.read_exports --rows 1000000 --out /tmp/adpipe-exports

# `make report` first runs the full commands of each task with a missing input (never `make tune` or
# `make bench`: their panels say which command fills them).
report: setup data ## One self-contained HTML page of every task -> reports/index.html
	$(PY) model.py tasks make --missing
	$(PY) model.py report --storage '$(STORAGE)' --study '$(STUDY)'

report-load: setup ## The report page's load event and size in headless Chromium (median of 3; targets 1.5 s, 8 MB)
	$(PY) -m adpipe.bench.page_load --page reports/index.html --runs 3

PORT ?= 8080

dashboard: setup ## Browse the tuning study live: optuna-dashboard on STORAGE at http://127.0.0.1:8080 (PORT= to change)
	@case '$(STORAGE)' in sqlite:///*) db='$(STORAGE)'; db="$${db#sqlite:///}"; \
		test -f "$$db" || { echo "error: $$db does not exist: run make tune first" >&2; exit 1; };; esac
	$(VENV)/bin/optuna-dashboard '$(STORAGE)' --host 127.0.0.1 --port $(PORT)

# `make serve` and `make loadtest` first train each missing model with its task's quick commands.
SERVE_PORT ?= 8000

serve: setup data ## Prediction web service on http://127.0.0.1:8000 (SERVE_PORT=): forms, JSON API, /health
	$(PY) model.py serve --train-missing --host 127.0.0.1 --port $(SERVE_PORT)

image: setup data ## Build the service's image with podman, run it on 127.0.0.1, check its answers (opt-in; docs/deploy.md)
	$(PY) model.py image

kube-check: image ## Play deploy/kubernetes.yaml under podman with that image: probes, port, Secret keys, read-only models (opt-in)
	$(PY) model.py kube-check

faults: setup data ## Fault drill on loopback: workers killed, model corrupted, disk full, PostgreSQL crashed, runs killed; alerts (minutes; root; docs/deploy.md)
	$(PY) model.py faults

loadtest: setup data ## Throughput and p50/p95/p99 latency of every task's API (needs Debian's hey) -> reports/loadtest.json
	@command -v hey >/dev/null || { echo "error: the load test needs hey: apt-get install -y hey" >&2; exit 1; }
	$(PY) model.py loadtest

EXPLORE_DATA ?=
loadtest-explore: setup data ## Explore's targets: the offline page's load and redraw at 10^5 rows (Chromium), the API's p50/p95 per query with hey (EXPLORE_DATA=NAME=FILE.parquet adds a big fact file)
	@command -v hey >/dev/null || { echo "error: the load test needs hey: apt-get install -y hey" >&2; exit 1; }
	$(PY) model.py loadtest-explore $(if $(EXPLORE_DATA),--explore-data $(EXPLORE_DATA))

test: setup data ## Run the test suite
	$(PY) -m pytest

lint: setup ## ruff check and format check
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: setup ## Apply ruff's formatting and safe fixes
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

clean: ## Remove outputs (models, reports, predictions, feature tables); keeps data, optuna.db and .venv
	rm -rf models reports data/processed
	[ ! -d predictions ] || find predictions -mindepth 1 ! -name example_predictions.json -exec rm -rf {} +
