# Two entry points: `make demo` (set up, then the whole lifecycle on a local AWS emulator:
# cdk bootstrap + deploy of dev, promote, status, rollback) and `make test`.
# Everything installs into ./.venv and ./node_modules; nothing global, no AWS account needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := .make
# Python may cache compiled modules (and pytest its rewritten tests) in __pycache__/ even where the
# shell sets PYTHONDONTWRITEBYTECODE: recompiling every module costs each test worker ~4 s.
unexport PYTHONDONTWRITEBYTECODE
# The CDK's Node environment (banners off, no telemetry) has one home: scripts/lib/cdk.py.

.PHONY: setup demo synth test check validate snapshot deploy bench clean help

help:
	@echo "make demo       set up, then deploy dev into a local AWS emulator, promote v1->v2, status, rollback, cutover"
	@echo "make synth      set up, validate, synthesize every environment into cdk.out/, print the review summary"
	@echo "make test       set up and run every test (what CI runs): the fast tier, the slow tier and the e2e matrix"
	@echo "make check      the fast tier, for every change: under a minute on 2 cores (no emulator, no subprocess)"
	@echo "make validate   check environment configs and pin manifests"
	@echo "make snapshot   accept template changes after review (updates tests/__snapshots__/)"
	@echo "make deploy ENV=dev   deploy one environment to REAL AWS with your credentials"
	@echo "make bench      rerun the benchmarks and print their figures"

$(STAMP)/python: requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (set PYTHON=...)")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@mkdir -p $(STAMP) && touch $@

$(STAMP)/node: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@mkdir -p $(STAMP) && touch $@

setup: $(STAMP)/python $(STAMP)/node

validate: $(STAMP)/python
	$(PY) -m scripts validate

demo: setup
	$(PY) -m localaws.demo

synth: setup
	$(PY) -m scripts synth $(if $(ENV),--env $(ENV))

# Two tiers (pytest.ini markers). `check`: every test but those marked slow or e2e, on both cores.
# `test` (CI): everything; the e2e matrix runs alone, since it times simulated deployments.
check: setup
	$(PY) -m pytest -m "not e2e and not slow" -n 2 --dist loadgroup

test: setup
	$(PY) -m pytest -m "not e2e" -n 2 --dist loadgroup
	$(PY) -m pytest -m e2e

snapshot: setup
	$(PY) -m pytest tests/test_templates_quality.py --snapshot-update

# Synthesizes, refuses any serving pin the account does not hold as pinned, then cdk deploy.
deploy: setup
	@test -n "$(ENV)" || (echo "usage: make deploy ENV=dev|staging|prod (real AWS, your credentials)"; exit 2)
	$(PY) -m scripts deploy --env $(ENV)

bench: setup
	$(PY) benchmarks/synth_time.py
	$(PY) benchmarks/synth_breakdown.py
	$(PY) benchmarks/hash_throughput.py
	$(PY) benchmarks/evaluate_throughput.py
	$(PY) benchmarks/promotion_exit_latency.py
	$(PY) benchmarks/client_overhead.py
	$(PY) benchmarks/fast_tier.py --runs 1

clean:
	rm -rf cdk.out cdk.out.tmp-* $(STAMP) .pytest_cache .demo
