#!/usr/bin/env bash
# Production smoke test: compile, refuse to start without the required variables, start with
# egg-scripts (daemon, 2 workers) on the embedded database, GET /health, stop, clean.
set -euo pipefail
cd "$(dirname "$0")/.."

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

MONGO_PORT=$(free_port)
APP_PORT=$(free_port)
MONGO_LOG=$(mktemp)
MONGO_PID=
cleanup() {
  npm stop >/dev/null 2>&1 || true
  [[ -n "$MONGO_PID" ]] && kill "$MONGO_PID" 2>/dev/null || true
  npm run clean >/dev/null 2>&1 || true
  rm -f "$MONGO_LOG"
}
trap cleanup EXIT

echo "--- compile (npm run tsc)"
npm run tsc

echo "--- a missing variable stops start-up with a clear message"
set +e
out=$(env -u MONGODB_URI -u WECHAT_SECRET EGG_SERVER_ENV=prod PORT="$APP_PORT" WECHAT_APPID=wx0000000000000001 \
  WECHAT_MSG_TOKEN=t EGG_KEYS=k npx egg-scripts start --daemon --title=egg-server-smoke-missing --port="$APP_PORT" --workers=1 --timeout=30000 2>&1)
status=$?
set -e
npx egg-scripts stop --title=egg-server-smoke-missing >/dev/null 2>&1 || true
if [[ $status -eq 0 ]] || ! grep -q "missing required environment variables: MONGODB_URI, WECHAT_SECRET" <<<"$out"; then
  echo "expected start-up to fail naming MONGODB_URI and WECHAT_SECRET; got status $status:"
  echo "$out" | tail -20
  exit 1
fi
echo "ok: $(grep -o 'missing required environment variables: [A-Z_, ]*' <<<"$out" | head -1)"

echo "--- embedded MongoDB on port $MONGO_PORT"
# Started directly (not through npm) so that $! is the server itself and the cleanup stops it.
node_modules/.bin/ts-node --transpile-only tools/embedded-mongo/cli.ts --port "$MONGO_PORT" >"$MONGO_LOG" 2>&1 &
MONGO_PID=$!
for _ in $(seq 1 100); do grep -q "mongodb://127.0.0.1:$MONGO_PORT" "$MONGO_LOG" && break; sleep 0.2; done
grep -q "mongodb://127.0.0.1:$MONGO_PORT" "$MONGO_LOG" || { cat "$MONGO_LOG"; exit 1; }

echo "--- npm start on port $APP_PORT"
EGG_SERVER_ENV=prod PORT="$APP_PORT" MONGODB_URI="mongodb://127.0.0.1:$MONGO_PORT/smoke" \
  WECHAT_APPID=wx0000000000000001 WECHAT_SECRET=smoke-secret WECHAT_MSG_TOKEN=smoke-token \
  EGG_KEYS=smoke-keys npm start -- --workers=2

body=$(curl -fsS "http://127.0.0.1:$APP_PORT/health")
echo "GET /health -> $body"
node -e 'const b=JSON.parse(process.argv[1]); if (b.code!==1||b.data.mongo!=="up") process.exit(1)' "$body"

echo "--- npm stop"
npm stop
sleep 1
if curl -fsS "http://127.0.0.1:$APP_PORT/health" >/dev/null 2>&1; then echo "still answering after npm stop"; exit 1; fi
echo "smoke test passed"
