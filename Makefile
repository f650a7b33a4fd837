# pay-account-mock: `make run` starts the server, `make test` runs every test.
.PHONY: run build release test test-rust test-node test-python test-openapi test-browser lint bench

CARGO ?= cargo

## Start the server on 127.0.0.1:8080 with the shipped fixtures (flags: make run ARGS="--port 9000").
## The first run compiles the release build (a few minutes; cargo shows its progress).
run:
	$(CARGO) run --release -- $(ARGS)

build:
	$(CARGO) build

release:
	$(CARGO) build --release

## Every test: Rust unit and integration tests, the official Node and Python clients, Schemathesis
## against openapi.yaml, the browser tests.
test: test-rust test-node test-python test-openapi test-browser

test-rust:
	$(CARGO) test

test-node: build
	tests/node/run.sh

test-python: build
	tests/python/run.sh

test-openapi: build
	tests/openapi/run.sh

test-browser: build
	tests/browser/run.sh

## Formatting and lints, as CI runs them.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps

## Benchmarks against the release build (see BENCHMARKS.md).
bench: release
	bench/run.sh
