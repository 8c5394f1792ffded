#!/usr/bin/env bash
# `make dev`: serves the gateway (and the account worker behind it) on 127.0.0.1:$1 with local D1,
# Durable Objects and R2.
# Reads .dev.vars; creates a JWT_SECRET when there is none; with no provider API key configured,
# starts the bundled mock provider and points every provider at it.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${1:-8787}"
MOCK_PORT="${MOCK_PORT:-$((PORT + 100))}"
# The mock's cargo profile: release for people; tests/dev.rs reuses the tests' dev build.
MOCK_PROFILE="${MOCK_PROFILE:-release}"
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
wrangler_pid=""
cleanup() {
  for pid in $wrangler_pid $mock_pid; do kill "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
fail() { printf '\033[1mflint:\033[0m \033[31m%s\033[0m\n' "$*" >&2; exit 1; }

# Answers 0 once GET $1 answers 200 (within 5 s); the body goes to stdout.
http_ok() {
  node -e '
    fetch(process.argv[1], { signal: AbortSignal.timeout(5000) })
      .then(async (r) => { process.stdout.write(await r.text()); process.exit(r.status === 200 ? 0 : 2); })
      .catch(() => process.exit(1));' "$1"
}

# Answers 0 when nothing listens on 127.0.0.1:$1, so that an answer there later is ours.
port_free() {
  node -e '
    const server = require("net").createServer();
    server.once("error", () => process.exit(1));
    server.listen(Number(process.argv[1]), "127.0.0.1", () => server.close(() => process.exit(0)));' "$1"
}
port_free "$PORT" || fail "port $PORT on 127.0.0.1 is taken (another make dev?): make dev PORT=N serves another"

if [ -z "$configured" ]; then
  mkdir -p .wrangler
  port_free "$MOCK_PORT" || fail "port $MOCK_PORT (the mock provider's) is taken: MOCK_PORT=N make dev picks another"
  mock_bin=$(scripts/mock-bin.sh --profile "$MOCK_PROFILE") || fail "could not build the mock provider (cargo's errors above)"
  mock_url="http://127.0.0.1:${MOCK_PORT}"
  "$mock_bin" --port "$MOCK_PORT" --api-key mock-key > .wrangler/mock.out 2>&1 &
  mock_pid=$!
  # "Started" only once this process is listening and answers: a mock that died (a taken port, a
  # missing binary) is reported, and another process's mock on the port is not taken for ours.
  for _ in $(seq 100); do
    grep -q 'listening on' .wrangler/mock.out 2>/dev/null && break
    kill -0 "$mock_pid" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -q 'listening on' .wrangler/mock.out || ! kill -0 "$mock_pid" 2>/dev/null ||
    ! http_ok "$mock_url/__mock/health" > /dev/null; then
    fail "the mock provider ($mock_bin) did not come up on $mock_url; its output: $(cat .wrangler/mock.out)
"
  fi
  while read -r id wire; do
    prefix=$(echo "$id" | tr '[:lower:]' '[:upper:]')
    if [ "$wire" = openai ]; then base="$mock_url/$id/v1"; else base="$mock_url/$id"; fi
    vars+=("${prefix}_API_KEY=mock-key" "${prefix}_BASE_URL=$base")
  done <<< "$providers"
  if ! grep -qE '^YOOKASSA_SHOP_ID=.+' .dev.vars; then
    vars+=("YOOKASSA_API_URL=$mock_url/yookassa/v3" "YOOKASSA_SHOP_ID=mock-shop" "YOOKASSA_SECRET_KEY=mock-secret")
    say "payments go to the mock YooKassa too: open a top-up's confirmation_url to 'pay' it"
  fi
  say "no provider API key in .dev.vars: started the bundled mock provider on $mock_url (pid $mock_pid)"
  say "and pointed every provider at it, so everything works offline. Add e.g. OPENAI_API_KEY to .dev.vars for real models."
else
  say "providers with an API key in .dev.vars:$configured"
fi

if ! grep -qE '^EMAIL_API_KEY=.+' .dev.vars; then
  vars+=("EMAIL_LOG_CODES=true")
  say "no EMAIL_API_KEY: email codes for /auth/send-code are printed in this log instead of mailed"
fi
if ! grep -qE '^ADMIN_TOKEN=.{32,}' .dev.vars; then
  if grep -qE '^ADMIN_TOKEN=.+' .dev.vars; then
    say "ADMIN_TOKEN in .dev.vars is shorter than 32 bytes; replacing it with a new random one"
  else
    say "no ADMIN_TOKEN in .dev.vars; generated one there (the operator API's bearer)"
  fi
  sed -i '/^ADMIN_TOKEN=/d' .dev.vars
  echo "ADMIN_TOKEN=$(node -e 'process.stdout.write(require("crypto").randomBytes(24).toString("hex"))')" >> .dev.vars
fi

say "loading schema.sql into the local D1 database"
node_modules/.bin/wrangler d1 execute DB --local --file schema.sql --persist-to "$STATE" > /dev/null ||
  fail "loading schema.sql into the local D1 database failed (wrangler's errors above)"
say "starting wrangler dev on http://127.0.0.1:${PORT} (the gateway, and the account worker behind it)"
# The overrides go in a .dev.vars of their own, not `--var` or `--env-file`: wrangler gives
# those to the first worker only, and both need them. Each worker reads the .dev.vars next to its
# config, so both configs are copied, with absolute paths, next to .dev.vars plus the overrides
# (later lines win); .dev.vars itself stays as the user wrote it.
run_dir=.wrangler/dev
mkdir -p "$run_dir"
for config in wrangler.toml wrangler.account.toml; do
  sed -e "s|^main = \"build/|main = \"$PWD/build/|" -e "s|^directory = \"build/|directory = \"$PWD/build/|" \
    "$config" > "$run_dir/$config"
done
(umask 077 && { cat .dev.vars; echo; printf '%s\n' "${vars[@]}"; } > "$run_dir/.dev.vars")
node_modules/.bin/wrangler dev -c "$run_dir/wrangler.toml" -c "$run_dir/wrangler.account.toml" \
  --ip 127.0.0.1 --port "$PORT" --persist-to "$STATE" --show-interactive-dev-session=false < /dev/null &
wrangler_pid=$!
# "Serving" only once /health answers; a wrangler that exits or never answers is an error.
deadline=$((SECONDS + 120))
unhealthy_since=""
while :; do
  rc=0; health=$(http_ok "http://127.0.0.1:${PORT}/health") || rc=$?
  [ "$rc" = 0 ] && break
  if ! kill -0 "$wrangler_pid" 2>/dev/null; then
    status=0; wait "$wrangler_pid" || status=$?; wrangler_pid=""
    fail "wrangler dev exited (status $status) before http://127.0.0.1:${PORT}/health answered: see its output above"
  fi
  # It answers, but not 200: give a starting worker a few seconds, then say which check fails.
  if [ "$rc" = 2 ]; then
    unhealthy_since=${unhealthy_since:-$SECONDS}
    [ $((SECONDS - unhealthy_since)) -ge 15 ] && fail "http://127.0.0.1:${PORT}/health answers, but not 200: $health"
  fi
  [ "$SECONDS" -ge "$deadline" ] && fail "wrangler dev did not answer http://127.0.0.1:${PORT}/health within 120 s"
  sleep 0.3
done
# The account worker answers behind the gateway: one of its open routes, through the gateway.
rc=0; answer=$(http_ok "http://127.0.0.1:${PORT}/api/console/config") || rc=$?
[ "$rc" = 0 ] || fail "the gateway is up but the account worker behind it is not: /api/console/config answered: $answer"
say "serving http://127.0.0.1:${PORT}: /health and the account worker answered 200 (Ctrl-C stops it)"
say "the console: http://127.0.0.1:${PORT}/ (the operator page: http://127.0.0.1:${PORT}/#/admin, with ADMIN_TOKEN from .dev.vars)"
status=0; wait "$wrangler_pid" || status=$?
wrangler_pid=""
exit "$status"
