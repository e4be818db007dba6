#!/usr/bin/env bash
# Proves the README's run command: `cargo run -- serve --demo` on a fresh directory starts on the
# embedded default (SQLite, demo data), answers, and stops cleanly on SIGTERM. After the tests
# (which build the same binary) the build step costs seconds; a release build would cost CI
# another 18 minutes on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$(mktemp -d)
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
port=${SMOKE_PORT:-18089}
started=$(date +%s)
cargo build -p salon
echo "smoke: cargo build -p salon took $(( $(date +%s) - started )) s"
(cd "$work" && SALON_ADDR="127.0.0.1:$port" exec "$root/target/debug/salon" serve --demo >"$work/serve.log" 2>&1) &
pid=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/readyz"; echo
# Ready means the store answers; the catalog projection may still be applying the demo seed.
for _ in $(seq 1 100); do
  count=$(curl -fsS "http://127.0.0.1:$port/api/v1/services" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])')
  [ "$count" = 6 ] && break
  sleep 0.1
done
[ "$count" = 6 ] || { echo "expected 6 demo services, got $count"; cat "$work/serve.log"; exit 1; }
curl -fsS "http://127.0.0.1:$port/" | grep -q 'src="/app.js"' || { echo "the booking site is not served at /"; exit 1; }
[ -f "$work/salon.db" ] || { echo "no salon.db in the working directory"; exit 1; }
kill -TERM "$pid"
wait "$pid"
echo "smoke: served the demo salon from SQLite and stopped cleanly"
