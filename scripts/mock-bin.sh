#!/usr/bin/env bash
# Builds the mock provider and prints the path of its binary, wherever cargo put it
# (CARGO_TARGET_DIR, a cargo config's build.target-dir, a profile): cargo's own answer, read from
# its build messages rather than guessed. Arguments go to `cargo build` (e.g. --release).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q -p flint-mock --bin flint-mock "$@" --message-format=json-render-diagnostics |
  node -e '
    let path = "";
    require("readline").createInterface({ input: process.stdin }).on("line", (line) => {
      try {
        const m = JSON.parse(line);
        if (m.reason === "compiler-artifact" && m.target.name === "flint-mock" && m.executable) path = m.executable;
      } catch {}
    }).on("close", () => {
      if (!path) { console.error("mock-bin: cargo built no flint-mock executable"); process.exit(1); }
      console.log(path);
    });'
