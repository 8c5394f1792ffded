#!/usr/bin/env bash
# The Rust side of the setup, for `make lint` and `make setup`: the wasm32 target and the clippy
# and rustfmt components, each added only when missing.
set -euo pipefail

say() { printf 'setup: %s\n' "$*" >&2; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

installed=$(rustup component list --installed)
for component in clippy rustfmt; do
  if ! grep -q "^$component-" <<< "$installed"; then
    say "adding the $component component"
    rustup component add "$component"
  fi
done
