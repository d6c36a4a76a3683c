# Developer entry points. `make help` lists them.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
CARGO ?= cargo
BIN := target/debug/locust-k8s-operator
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
# Image names: the same as src/manifests/release.rs, which writes them into the chart, the CSV
# and the catalog. Override REGISTRY to build elsewhere (the generated files keep the official
# names).
REGISTRY ?= ghcr.io/locust-k8s-operator
IMAGE ?= $(REGISTRY)/locust-k8s-operator
BUNDLE_IMAGE ?= $(REGISTRY)/locust-k8s-operator-bundle
CATALOG_IMAGE ?= $(REGISTRY)/locust-k8s-operator-catalog
# Container engine (podman or docker) and the platforms of the multi-arch images.
ENGINE ?= podman
PLATFORMS ?= linux/amd64,linux/arm64
# Where helm-package writes the chart archive and the chart repository index.
DIST ?= dist
CHART_REPO_URL ?= https://github.com/locust-k8s-operator/locust-k8s-operator/releases/download/v$(VERSION)
# The variables the tests use (tool paths); empty until `make tools` has run.
TOOLS_ENV = eval "$$(hack/tools.sh --print-env)"

.PHONY: help build test bench unit lint fmt generate check-generated tools run sandbox sandbox-down \
	bundle catalog helm-package images image bundle-image catalog-image

help: ## List targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

build: ## Build the operator binary
	$(CARGO) build

tools: ## Build or fetch the pinned Kubernetes tools and Locust into the cache (slow once, then seconds)
	hack/tools.sh

test: tools ## Every test: unit, integration against a real API server, end to end on a simulated cluster and a real node
	$(TOOLS_ENV); $(CARGO) test --all-targets

bench: ## Release-build benchmarks that print figures (docs/performance.md)
	$(TOOLS_ENV); $(CARGO) bench --bench cache_memory --bench hot_paths --bench stats_polling --bench operator_scale --bench status_lag --bench conversion

unit: ## Unit tests only (no cluster)
	$(CARGO) test --lib --bins

lint: ## rustfmt and clippy, as CI runs them
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

fmt: ## Format the code
	$(CARGO) fmt --all

generate: build ## Write config/, charts/, bundle/ and catalog/ from the Rust source
	$(BIN) generate

check-generated: build ## Fail if generated files drifted from the Rust source
	$(BIN) generate --check

sandbox: tools build ## Start the local cluster in the background (real node when it can, else simulated)
	hack/sandbox.sh up

sandbox-down: ## Stop the local cluster
	hack/sandbox.sh down

run: tools build ## Sandbox cluster + CRD + operator + a sample test
	hack/sandbox.sh run

bundle: generate ## Regenerate bundle/ and validate it (operator-sdk, operatorframework suite)
	$(TOOLS_ENV); "$$TOOL_OPERATOR_SDK" bundle validate ./bundle --select-optional suite=operatorframework

catalog: generate ## Regenerate catalog/ and validate it (opm validate)
	$(TOOLS_ENV); "$$TOOL_OPM" validate catalog

helm-package: generate ## Lint the chart, package it into dist/ and write dist/index.yaml (merged with one already there)
	$(TOOLS_ENV); "$$TOOL_HELM" lint --strict charts/locust-k8s-operator
	$(TOOLS_ENV); "$$TOOL_HELM" package charts/locust-k8s-operator --destination $(DIST)
	$(TOOLS_ENV); "$$TOOL_HELM" repo index $(DIST) --url $(CHART_REPO_URL) \
	  $(if $(wildcard $(DIST)/index.yaml),--merge $(DIST)/index.yaml)

images: image bundle-image catalog-image ## Build the operator (multi-arch), bundle and catalog images (needs podman or docker)

image: ## Build the multi-arch operator image (a manifest list, PLATFORMS)
ifeq ($(ENGINE),docker)
	docker buildx build --platform $(PLATFORMS) -f Containerfile --build-arg VERSION=$(VERSION) -t $(IMAGE):$(VERSION) .
else
	podman build --platform $(PLATFORMS) --manifest $(IMAGE):$(VERSION) -f Containerfile --build-arg VERSION=$(VERSION) .
endif

bundle-image: bundle ## Build the OLM bundle image (BUNDLE_IMAGE:vVERSION)
	$(ENGINE) build -f bundle/Containerfile -t $(BUNDLE_IMAGE):v$(VERSION) bundle

catalog-image: catalog ## Build the file-based catalog image (CATALOG_IMAGE:vVERSION)
	$(ENGINE) build -f catalog/Containerfile -t $(CATALOG_IMAGE):v$(VERSION) catalog
