#!/usr/bin/env bash
# Builds the worker into build/ with the locally installed tools (worker-build would otherwise
# try to download wasm-bindgen and wasm-opt from GitHub, which these machines cannot reach).
set -euo pipefail
cd "$(dirname "$0")/.."
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen)}"
export ESBUILD_BIN="${ESBUILD_BIN:-$PWD/node_modules/.bin/esbuild}"
exec worker-build --release
