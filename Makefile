# Developer entry points. `make help` lists them.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
CARGO ?= cargo
BIN := target/debug/locust-k8s-operator
IMAGE ?= ghcr.io/locust-k8s-operator/locust-k8s-operator
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
# The variables the tests use (tool paths); empty until `make tools` has run.
TOOLS_ENV = eval "$$(hack/tools.sh --print-env)"

.PHONY: help build test unit lint fmt generate check-generated tools run sandbox sandbox-down images

help: ## List targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

build: ## Build the operator binary
	$(CARGO) build

tools: ## Build or fetch the pinned Kubernetes tools and Locust into the cache (slow once, then seconds)
	hack/tools.sh

test: tools ## Every test: unit, integration against a real API server, end to end on a simulated cluster
	$(TOOLS_ENV); $(CARGO) test --all-targets

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

sandbox: tools build ## Start the local simulated cluster in the background
	hack/sandbox.sh up

sandbox-down: ## Stop the local simulated cluster
	hack/sandbox.sh down

run: tools build ## Sandbox cluster + CRD + operator + a sample test
	hack/sandbox.sh run

images: ## Build the operator image (needs a container engine)
	podman build -f Containerfile -t $(IMAGE):$(VERSION) .
