#!/usr/bin/env bash
# `make dev`: serves the gateway on 127.0.0.1:$1 with local D1, Durable Objects and R2.
# Reads .dev.vars; creates a JWT_SECRET when there is none; with no provider API key configured,
# starts the bundled mock provider and points every provider at it.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${1:-8787}"
MOCK_PORT="${MOCK_PORT:-$((PORT + 100))}"
STATE=.wrangler/state
say() { printf '\033[1mflint:\033[0m %s\n' "$*"; }

touch .dev.vars
chmod 600 .dev.vars
if ! grep -qE '^JWT_SECRET=.{32,}' .dev.vars; then
  if grep -qE '^JWT_SECRET=' .dev.vars; then
    say "JWT_SECRET in .dev.vars is shorter than 32 bytes; replacing it with a new random one"
    sed -i '/^JWT_SECRET=/d' .dev.vars
  else
    say "no JWT_SECRET in .dev.vars; generated a random one there"
  fi
  echo "JWT_SECRET=$(node -e 'process.stdout.write(require("crypto").randomBytes(32).toString("hex"))')" >> .dev.vars
fi

# Provider ids and wire formats come from the catalog, the one source of truth.
providers=$(node -e 'for (const p of require("./src/catalog/providers.json")) console.log(p.id + " " + p.wire)')
configured=""
while read -r id wire; do
  prefix=$(echo "$id" | tr '[:lower:]' '[:upper:]')
  if grep -qE "^${prefix}_API_KEY=.+" .dev.vars; then configured="$configured $id"; fi
done <<< "$providers"

vars=()
mock_pid=""
cleanup() { [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null || true; }
trap cleanup EXIT INT TERM

if [ -z "$configured" ]; then
  mock_url="http://127.0.0.1:${MOCK_PORT}"
  target/release/flint-mock --port "$MOCK_PORT" --api-key mock-key > .wrangler/mock.out 2>&1 &
  mock_pid=$!
  for _ in $(seq 50); do grep -q listening .wrangler/mock.out 2>/dev/null && break; sleep 0.1; done
  while read -r id wire; do
    prefix=$(echo "$id" | tr '[:lower:]' '[:upper:]')
    if [ "$wire" = openai ]; then base="$mock_url/$id/v1"; else base="$mock_url/$id"; fi
    vars+=(--var "${prefix}_API_KEY:mock-key" --var "${prefix}_BASE_URL:$base")
  done <<< "$providers"
  if ! grep -qE '^YOOKASSA_SHOP_ID=.+' .dev.vars; then
    vars+=(--var "YOOKASSA_API_URL:$mock_url/yookassa/v3" --var "YOOKASSA_SHOP_ID:mock-shop" --var "YOOKASSA_SECRET_KEY:mock-secret")
    say "payments go to the mock YooKassa too: open a top-up's confirmation_url to 'pay' it"
  fi
  say "no provider API key in .dev.vars: started the bundled mock provider on $mock_url (pid $mock_pid)"
  say "and pointed every provider at it, so everything works offline. Add e.g. OPENAI_API_KEY to .dev.vars for real models."
else
  say "providers with an API key in .dev.vars:$configured"
fi

if ! grep -qE '^EMAIL_API_KEY=.+' .dev.vars; then
  vars+=(--var "EMAIL_LOG_CODES:true")
  say "no EMAIL_API_KEY: email codes for /auth/send-code are printed in this log instead of mailed"
fi
if ! grep -qE '^ADMIN_TOKEN=.+' .dev.vars; then
  echo "ADMIN_TOKEN=$(node -e 'process.stdout.write(require("crypto").randomBytes(24).toString("hex"))')" >> .dev.vars
  say "no ADMIN_TOKEN in .dev.vars; generated one there (the operator API's bearer)"
fi

say "loading schema.sql into the local D1 database"
node_modules/.bin/wrangler d1 execute DB --local --file schema.sql --persist-to "$STATE" > /dev/null
say "serving http://127.0.0.1:${PORT}"
node_modules/.bin/wrangler dev --ip 127.0.0.1 --port "$PORT" --persist-to "$STATE" \
  --show-interactive-dev-session=false "${vars[@]}"
