# shortlink — `make help` lists the targets. The two you need: `make run` and `make test`.
SHELL := bash
.DEFAULT_GOAL := help
export SHORTLINK_CACHE ?= $(CURDIR)/.cache

TOOLS := $(SHORTLINK_CACHE)/tools
UV := $(TOOLS)/bin/uv
UV_VERSION := 0.13.9
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: deps
deps: $(VENV)/.synced ## Install system packages (etcd, openssl) and the Python environment.
	@hack/install-system-deps.sh

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

# requirements.lock pins every package (direct and transitive) by version; `make lock` renews it.
$(VENV)/.synced: pyproject.toml requirements.lock | $(UV)
	test -x $(PY) || $(UV) venv --quiet --python python3 $(VENV)
	$(UV) pip sync --quiet --python $(PY) requirements.lock
	$(UV) pip install --quiet --python $(PY) --no-deps --editable .
	@touch $@

.PHONY: lock
lock: | $(UV) ## Re-resolve requirements.lock (dev) and requirements-runtime.lock (images).
	$(UV) pip compile pyproject.toml --group dev $(LOCK_FLAGS) $(LOCK_UPGRADE) -o requirements.lock
	$(UV) pip compile pyproject.toml $(LOCK_FLAGS) $(LOCK_UPGRADE) -o requirements-runtime.lock

LOCK_FLAGS := --python-version 3.11 --no-header --no-annotate --quiet --generate-hashes
# `make lock LOCK_UPGRADE=--upgrade` moves every pin to the newest release.

.PHONY: kube-apiserver
kube-apiserver: deps ## Build (once) and cache kube-apiserver from the pinned Go module.
	$(PY) -c 'import os, pathlib; from shortlink_localcluster.build import ensure_kube_apiserver as e; print(e(pathlib.Path(os.environ["SHORTLINK_CACHE"])))'

.PHONY: chart-tools
chart-tools: deps ## Build (once) helm and generate the Gateway API and prometheus-operator CRDs from their Go types.
	$(PY) -m shortlink_localcluster.tools

.PHONY: chart-crds
chart-crds: ## Copy crds/ into the chart (charts/shortlink/files/crds); a test fails on drift.
	rm -f charts/shortlink/files/crds/*.yaml
	cp crds/*.yaml charts/shortlink/files/crds/

IMAGE_TAG ?= dev
.PHONY: images
images: ## Build the operator and redirector images from the Dockerfile (tag: IMAGE_TAG, default dev).
	@hack/build-images.sh $(IMAGE_TAG) $(IMAGE_ARCHIVES)
# `make images IMAGE_ARCHIVES=dist` also writes dist/shortlink-images-$(IMAGE_TAG).tar (docker save).

.PHONY: kind-e2e
kind-e2e: deps ## With Docker: kind cluster, images loaded, chart installed, a link served through it.
	IMAGE_TAG=$(IMAGE_TAG) hack/kind-e2e.sh

.PHONY: run
run: deps ## Run everything on a local control plane; redirects on http://127.0.0.1:8080.
	$(PY) -m shortlink_localcluster

.PHONY: run-operator
run-operator: deps ## Run the operator against the cluster of $KUBECONFIG.
	$(PY) -m shortlink_operator

.PHONY: run-redirector
run-redirector: deps ## Run a redirector on 127.0.0.1:8080 against the cluster of $KUBECONFIG.
	$(PY) -m shortlink_redirector --host 127.0.0.1 --metrics-host 127.0.0.1

.PHONY: lint
lint: deps ## ruff (lint and format), mypy --strict, the import layering and hadolint.
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(VENV)/bin/hadolint Dockerfile

.PHONY: prometheus
prometheus: ## Install Prometheus and promtool (Debian's prometheus) for the observability tier.
	@hack/install-system-deps.sh prometheus

.PHONY: browser
browser: ## Install headless Chromium (Debian's chromium) for the browser tier and the screenshots.
	@hack/install-system-deps.sh chromium

.PHONY: screenshots
screenshots: deps browser ## Regenerate docs/screenshots/ (one PNG per page of the redirector) in headless Chromium.
	$(PY) -m tests.browser.shots docs/screenshots

.PHONY: node-deps
node-deps: deps ## Install, start and build what the node tier needs: Docker, containerd, the node's programs, the images.
	@hack/install-system-deps.sh node
	@hack/ensure-docker.sh
	$(PY) -m shortlink_localcluster.node
	@hack/build-images.sh node-tier

.PHONY: test
test: lint kube-apiserver chart-tools prometheus browser node-deps ## Lint, then every tier: unit, component, browser, cluster, chart, prometheus, node.
	$(VENV)/bin/pytest $(PYTEST_ARGS)

.PHONY: node-up
node-up: deps chart-tools node-deps ## Start the node tier's node and release and keep them until Ctrl-C (ARGS=--without-operator), to run cluster tests against it.
	$(PY) -m shortlink_localcluster.node_up $(ARGS)

.PHONY: test-node
test-node: deps chart-tools node-deps ## Only the node tier: images, a real kubelet node, the chart installed with helm.
	$(VENV)/bin/pytest tests/node $(PYTEST_ARGS)

# The cluster tier against an existing cluster (external mode, tests/cluster/conftest.py): no other
# shortlink operator may run there meanwhile; the tests that stop the API server are deselected.
EXTERNAL_TESTS ?= tests/cluster
.PHONY: test-external
test-external: deps chart-tools ## The cluster tier (EXTERNAL_TESTS, default all of it) against the existing cluster of KUBECONFIG.
	@test -n "$(KUBECONFIG)" || { echo "test-external: set KUBECONFIG to the cluster's kubeconfig" >&2; exit 2; }
	SHORTLINK_TEST_KUBECONFIG="$(KUBECONFIG)" $(VENV)/bin/pytest $(EXTERNAL_TESTS) $(PYTEST_ARGS)

.PHONY: test-unit
test-unit: deps ## Only the unit and component tiers (no control plane).
	$(VENV)/bin/pytest tests/unit tests/component $(PYTEST_ARGS)

.PHONY: bench-scale
bench-scale: kube-apiserver ## Create $$LINKS ShortLinks (default 100000) on a local control plane, then ShortLink vs ConfigMap create rate; JSON in .cache/bench/.
	$(PY) bench/scale.py --links $(or $(LINKS),100000)
	$(PY) -m bench.create_rate

.PHONY: bench-node
bench-node: deps chart-tools node-deps ## The chart on the node: apply -> every redirector replica serving, p50/p99 over $$UPDATES (100).
	$(PY) -m bench.node --updates $(or $(UPDATES),100)

.PHONY: format
format: deps ## Format and autofix the code.
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

.PHONY: clean
clean: ## Remove the virtualenv and caches (keeps the built kube-apiserver).
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache $(SHORTLINK_CACHE)/run

.PHONY: bench
bench: deps kube-apiserver chart-tools node-deps ## Measure: hot path and 404s, scale (SCALE_LINKS=10000), ShortLink create cost, redirector vs nginx, 1 % unknown slugs, propagation (one process, then every replica on the node).
	@hack/install-system-deps.sh nginx wrk
	$(PY) bench/hotpath.py --with-visit-log
	$(PY) bench/scale.py --links $(or $(SCALE_LINKS),10000)
	$(PY) -m bench.create_rate
	$(PY) -m bench $(BENCH_ARGS)
	$(PY) -m bench.node --updates $(or $(UPDATES),100)
