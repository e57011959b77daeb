# Outpost: `make demo` runs the main job, `make test` runs everything CI checks.
SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)
CARGO ?= cargo

.PHONY: demo test deps fmt-check layers clippy test-rust test-kotlin mobile-check bench bench-scan

## Install what is missing (Debian packages), then run the scripted demo.
demo: deps
	@scripts/demo.sh

## Everything CI checks: formatting, the layers, clippy with -D warnings, all tests, and what can
## be checked of the phone builds (mobile-check).
test: deps fmt-check layers clippy test-rust test-kotlin mobile-check

deps:
	@scripts/install-deps.sh

fmt-check:
	$(CARGO) fmt --all -- --check

## No module imports its own layer or one above it (docs/architecture.md).
layers:
	scripts/server-layers.sh

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test-rust:
	$(CARGO) test --workspace

## The Kotlin binding tests on the JVM (installs kotlinc from npm and JNA from Debian if missing).
test-kotlin:
	scripts/test-kotlin.sh

## What can be checked of the phone builds here: outpost-ffi's graph for the Android and iOS
## targets, the generated Kotlin and Swift, the host library's size in the `mobile` profile
## (a size-optimised LTO build: ~10 minutes the first time).
mobile-check: deps
	scripts/mobile-check.sh

## The store benchmark (release build), as JSON.
bench:
	$(CARGO) run --release -p outpost-tests --bin outpost-bench -- store --json

## The scan benchmark (release build), as JSON: installs its RapidOCR and Tesseract baselines
## first (scripts/bench-scan-baselines.sh), then scans the synthetic hard cases beside them.
bench-scan:
	scripts/fetch-models.sh
	scripts/bench-scan-baselines.sh
	$(CARGO) run --release -p outpost-tests --bin outpost-bench -- scan --json
