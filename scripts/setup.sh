#!/usr/bin/env bash
# Installs what building and testing Flint needs, skipping whatever is already in place:
# the wasm32 target with clippy and rustfmt (scripts/toolchain.sh), worker-build and
# wasm-bindgen-cli at the pinned versions, and the npm packages.
#
# The tools are compiled from crates.io (no prebuilt binary of either is reachable here), once per
# machine, into cargo's bin directory (CARGO_INSTALL_ROOT overrides it). A tool already on PATH or
# there at the pinned version is reused. The compile is tuned for build time, not for the tools'
# speed: see "First run" in the README for the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/tools.sh

say() { printf 'setup: %s\n' "$*" >&2; }

scripts/toolchain.sh

install_tools() {
  local need=()
  find_worker_build > /dev/null || need+=(worker-build)
  find_wasm_bindgen > /dev/null || need+=(wasm-bindgen-cli)
  [ ${#need[@]} = 0 ] && return 0
  say "compiling ${need[*]} from crates.io into $(tools_bin_dir), once per machine (a few minutes)"
  # Both installs share one target directory, so the crates both compile alike compile once; it
  # is deleted afterwards. The release profile is overridden for compile time (measured, see the
  # README): unoptimised, both compile in about 30% of the CPU time. The price is wasm-bindgen
  # taking ~2 s instead of ~0.4 s per build; FLINT_TOOLS_OPT_LEVEL=1 makes it as fast as at 3
  # for about 2.5 times its compile time.
  local target
  target=$(mktemp -d "${TMPDIR:-/tmp}/flint-tools.XXXXXX")
  # shellcheck disable=SC2064
  trap "rm -rf '$target'" EXIT # install_tools runs in a subshell
  export CARGO_TARGET_DIR="$target"
  export CARGO_PROFILE_RELEASE_OPT_LEVEL="${FLINT_TOOLS_OPT_LEVEL:-0}"
  export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=256
  export CARGO_PROFILE_RELEASE_LTO=false
  export CARGO_PROFILE_RELEASE_DEBUG=false
  export CARGO_PROFILE_RELEASE_INCREMENTAL=false
  if [[ " ${need[*]} " == *" worker-build "* ]]; then
    cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked
  fi
  if [[ " ${need[*]} " == *" wasm-bindgen-cli "* ]]; then
    # Not --locked: its lock file names a crate version the registry does not serve. Only the
    # `wasm-bindgen` binary, and without TLS (only the test runner's downloads use it).
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --no-default-features --bin wasm-bindgen
  fi
  find_worker_build > /dev/null && find_wasm_bindgen > /dev/null
}

if ! find_worker_build > /dev/null || ! find_wasm_bindgen > /dev/null; then
  # One install per machine at a time: a second `make` waits for the first, then finds the tools.
  lock="${TMPDIR:-/tmp}/flint-tools-install.lock"
  exec 9> "$lock"
  if ! flock -n 9; then
    say "another process is installing the tools (lock $lock); waiting for it"
    flock 9
  fi
  (install_tools)
  flock -u 9
fi

stamp=node_modules/.flint-lock-sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || [ ! -x node_modules/.bin/wrangler ]; then
  say "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund
  echo "$want" > "$stamp"
fi

# The official Python SDK for the SDK tests, pinned with its dependencies, in its own venv.
venv=.venv-sdk
pystamp=$venv/.flint-requirements-sha256
pywant=$(sha256sum tests/python/requirements.txt | cut -d' ' -f1)
if [ "$(cat "$pystamp" 2>/dev/null)" != "$pywant" ] || [ ! -x "$venv/bin/python" ]; then
  say "installing the Python SDK test packages into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/python/requirements.txt
  echo "$pywant" > "$pystamp"
fi

# Flint's own Python SDK (sdk/python, `flint-ai`) into the same venv, editable: the tests import
# the source tree. Reinstalled when its pyproject.toml changes or the venv's `flint` is not this
# checkout's.
flintstamp=$venv/.flint-sdk-sha256
flintwant=$(sha256sum sdk/python/pyproject.toml | cut -d' ' -f1)
flintwhere=$("$venv/bin/python" -c 'import flint, os; print(os.path.realpath(flint.__file__))' 2> /dev/null || true)
if [ "$(cat "$flintstamp" 2>/dev/null)" != "$flintwant" ] || [ "$flintwhere" != "$(pwd -P)/sdk/python/flint/__init__.py" ]; then
  say "installing sdk/python (flint-ai) into $venv, editable"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps --editable sdk/python
  echo "$flintwant" > "$flintstamp"
fi

# The console's browser tests (tests/console.rs) drive Debian's chromium package headless.
if [ ! -x "${FLINT_CHROMIUM:-/usr/bin/chromium}" ]; then
  if [ "$(id -u)" = 0 ]; then
    say "installing Debian's chromium for the console's browser tests (apt-get, once per machine)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null
  elif command -v sudo > /dev/null && sudo -n true 2> /dev/null; then
    say "installing Debian's chromium for the console's browser tests (sudo apt-get, once per machine)"
    sudo -n apt-get update -qq
    sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null
  else
    say "no chromium and no root to install it: the console's browser tests will fail until 'apt-get install -y chromium' (or FLINT_CHROMIUM=/path/to/chromium)"
  fi
fi
