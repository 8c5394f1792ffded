#!/usr/bin/env bash
# Builds the web console (console/) into build/console: one minified ES module bundling Preact,
# htm and uPlot from node_modules, its CSS, and index.html. Nothing is fetched at run time.
# Prints the bundle's size, raw and gzipped.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/console
rm -rf "$out"
mkdir -p "$out"
node_modules/.bin/esbuild console/src/main.js --bundle --minify --format=esm --target=es2020 \
  --legal-comments=none --log-level=warning --outfile="$out/app.js"
cp console/index.html "$out/index.html"
cp console/favicon.svg "$out/favicon.svg"
cp console/_headers "$out/_headers"
size() { wc -c < "$1" | tr -d ' '; }
gz() { gzip -9c "$1" | wc -c | tr -d ' '; }
total=0 total_gz=0
for f in "$out"/app.js "$out"/app.css "$out"/index.html; do
  total=$((total + $(size "$f"))); total_gz=$((total_gz + $(gz "$f")))
done
echo "console: $out (app.js, app.css, index.html) $total B, $total_gz B gzipped" >&2
