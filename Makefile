# embedlab: `make help` lists the targets. Every target that needs Python installs .venv first.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
EMBEDLAB := $(VENV)/bin/embedlab
STAMP := $(VENV)/.installed
SMOKE_DIR ?= smoke
SMOKE_STEPS ?= 3
VARIANTS ?=
# make reproduce: BACKBONE picks the study preset (configs/studies/): offline, qwen2-0.5b or paper.
BACKBONE ?= offline
SEEDS ?=
STEPS ?=
DRY_RUN ?=

.PHONY: help install test test-slow lint smoke assets demo reproduce findings lock clean

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	# torch is pinned in the same pip call as everything else: alone, pip would pull a CUDA build.
	$(PY) -m pip install --quiet --disable-pip-version-check -c requirements.lock torch==2.13.0 -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## Create .venv with pinned dependencies (idempotent)

test: install ## Run the fast test suite (CPU, offline)
	$(PY) -m pytest -q

test-slow: install ## Run the slow tests too (real SmolLM2 weights; needs `make assets`)
	$(PY) -m pytest -q -m "slow or not slow"

lint: install ## Check style with ruff
	$(VENV)/bin/ruff check embedlab tests benchmarks

assets: install ## Fetch and verify every pinned offline asset into the cache ($$EMBEDLAB_CACHE)
	$(EMBEDLAB) assets fetch

smoke: install ## Train every variant for a few steps on the tiny random model; prints the checkpoints
	$(PY) -m embedlab.smoke --out $(SMOKE_DIR) --steps $(SMOKE_STEPS) $(VARIANTS)

demo: assets ## The whole study in miniature on SmolLM2-135M, offline, on CPU (~15 min): writes report/demo/
	$(EMBEDLAB) study --preset demo --out runs/demo --report report/demo

reproduce: install ## The grid: make reproduce BACKBONE=offline|qwen2-0.5b|paper SEEDS="0 1 2" VARIANTS="m1 m5" [DRY_RUN=1]
	$(if $(filter offline demo,$(BACKBONE)),$(EMBEDLAB) assets fetch,)
	@mkdir -p runs/$(BACKBONE)
	# The terminal output is kept in runs/<preset>/study.log: `make findings` reads the wall times from it.
	set -o pipefail; $(EMBEDLAB) study --preset $(BACKBONE) --out runs/$(BACKBONE) --report report/$(BACKBONE) \
	  $(if $(SEEDS),--seeds $(SEEDS)) $(if $(VARIANTS),--variants $(VARIANTS)) $(if $(STEPS),--steps $(STEPS)) \
	  $(if $(DRY_RUN),--dry-run) 2>&1 | tee $(if $(DRY_RUN),/dev/null,runs/$(BACKBONE)/study.log)

findings: install ## The offline study's findings page, docs/findings/offline.md, from runs/offline [STUDY=docs/findings/runs]
	$(PY) -m embedlab.study.findings --study $(or $(STUDY),runs/offline) --preset offline --page docs/findings/offline.md

lock: install ## Re-pin requirements.lock from the current .venv
	@(echo "# Exact versions resolved on the reference machine (2 cores, CPU, Python 3.11), used as pip constraints"; \
	  echo "# by 'make install'. Regenerate with 'make lock'."; \
	  $(PY) -m pip freeze --exclude-editable | sed 's/^torch==\(.*\)+cpu/torch==\1/') > requirements.lock

clean: ## Remove smoke runs and caches (not .venv, not the asset cache, not runs/ or report/)
	rm -rf $(SMOKE_DIR) .pytest_cache .ruff_cache
