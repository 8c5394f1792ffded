# Flint: `make dev` serves the gateway locally, `make test` runs every test. Both set themselves up
# on a fresh machine (wasm target, worker-build, wasm-bindgen-cli, npm packages, local D1 schema).

PORT ?= 8787
export WRANGLER_SEND_METRICS := false
export CLOUDFLARE_CF_FETCH_ENABLED := false

.PHONY: dev test bench setup toolchain build mock lint fmt clean sdk

setup:
	@scripts/setup.sh

## make toolchain: the wasm32 target and clippy/rustfmt (part of setup; all that lint needs)
toolchain:
	@scripts/toolchain.sh

build: setup
	@scripts/build.sh

mock:
	@scripts/mock-bin.sh --release

## make dev [PORT=8787]: the gateway with local D1, Durable Objects and R2 (it builds the mock itself)
dev: build
	@scripts/dev.sh $(PORT)

## make test: unit tests, end-to-end tests against wrangler dev, and the OpenAI SDK checks
test: build
	cargo build -q -p flint-mock
	cargo test --workspace

## make bench: figures, not assertions
bench: build
	cargo build -q -p flint-mock
	cargo bench --profile dev --bench gateway

## make sdk: the SDKs as packages, in target/sdk: the wheel of sdk/python (flint-ai) and the npm
## tarball of sdk/node (@flint-ai/sdk)
sdk: setup
	@mkdir -p target/sdk
	.venv-sdk/bin/pip wheel --quiet --disable-pip-version-check --no-deps --wheel-dir target/sdk ./sdk/python
	cd sdk/node && npm pack --silent --pack-destination ../../target/sdk
	@ls -l target/sdk

## make lint: the house rules (rustfmt, clippy host and wasm, both workers, with -D warnings); CI runs it first
lint: toolchain
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p flint --target wasm32-unknown-unknown -- -D warnings
	cargo clippy -p flint --target wasm32-unknown-unknown --features account -- -D warnings

fmt:
	cargo fmt --all

clean:
	rm -rf build target/e2e
