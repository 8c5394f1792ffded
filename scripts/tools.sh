# Sourced by setup.sh and build.sh: the pinned wasm tools and where to find them.
# shellcheck shell=bash

WORKER_BUILD_VERSION=0.8.7
WASM_BINDGEN_VERSION=0.2.130 # must equal the `wasm-bindgen` pin in Cargo.toml

# Where `cargo install` puts binaries: $CARGO_INSTALL_ROOT/bin, else $CARGO_HOME/bin.
tools_bin_dir() {
  if [ -n "${CARGO_INSTALL_ROOT:-}" ]; then
    echo "$CARGO_INSTALL_ROOT/bin"
  else
    echo "${CARGO_HOME:-$HOME/.cargo}/bin"
  fi
}

# Prints the first NAME on PATH (then in cargo's bin directory, which a fresh shell may not have
# on PATH) whose `--version` prints exactly WANT; fails when there is none.
find_tool() {
  local name=$1 want=$2 dir path
  local IFS=:
  for dir in $PATH $(tools_bin_dir); do
    path="${dir:-.}/$name"
    if [ -x "$path" ] && [ "$("$path" --version 2>/dev/null)" = "$want" ]; then
      echo "$path"
      return 0
    fi
  done
  return 1
}

find_worker_build() { find_tool worker-build "$WORKER_BUILD_VERSION"; }
find_wasm_bindgen() { find_tool wasm-bindgen "wasm-bindgen $WASM_BINDGEN_VERSION"; }
