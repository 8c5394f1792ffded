#!/usr/bin/env bash
# Builds the workers into build/ with the locally installed tools (worker-build would otherwise
# try to download wasm-bindgen and wasm-opt from GitHub, which these machines cannot reach).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/tools.sh
worker_build=$(find_worker_build) ||
  { echo "build: no worker-build $WORKER_BUILD_VERSION on PATH or in $(tools_bin_dir): run scripts/setup.sh" >&2; exit 1; }
WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$(find_wasm_bindgen)}" ||
  { echo "build: no wasm-bindgen $WASM_BINDGEN_VERSION on PATH or in $(tools_bin_dir): run scripts/setup.sh" >&2; exit 1; }
export WASM_BINDGEN_BIN
export ESBUILD_BIN="${ESBUILD_BIN:-$PWD/node_modules/.bin/esbuild}"
# The two workers (src/workers.rs): the gateway into build/, then the account worker.
"$worker_build" --release
"$worker_build" --release --out-dir build/account -- --features account
# After the workers: worker-build owns build/ and may clear it.
scripts/build-console.sh
