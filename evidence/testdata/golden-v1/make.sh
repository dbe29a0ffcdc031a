#!/bin/sh
# Makes the golden evidence packages of evidence/testdata/golden-v1 (OUT) and the
# server answers of ledger/httpapi/testdata/golden-* (SERVER_OUT) with the
# ledger and verifier binaries in BIN. See evidence/testdata/golden-v1/README.md.
set -eu
BIN=${BIN:?} OUT=${OUT:?} SERVER_OUT=${SERVER_OUT:?}
data=$(mktemp -d)
"$BIN/ledger" serve --data "$data" --init --origin example.com/golden --listen 127.0.0.1:18471 --publish-interval 10ms >"$data/serve.out" 2>"$data/serve.err" &
pid=$!
trap 'kill $pid; rm -rf "$data"' EXIT
for i in $(seq 50); do curl -sf http://127.0.0.1:18471/healthz >/dev/null && break; sleep 0.1; done
curl -sS -X POST -H 'Content-Type: application/json' http://127.0.0.1:18471/v1/events --data-binary @"$SERVER_OUT/golden-events.json"
echo
vkey=$(cat "$data/log.key.pub")
for i in $(seq 100); do
  n=$(curl -sf 'http://127.0.0.1:18471/v1/events?actor_id=alice&since=2026-11-01T00:00:00Z&until=2026-11-03T00:00:00Z' | grep -o '"index"' | wc -l)
  [ "$n" -ge 3 ] && break; sleep 0.1
done
sleep 0.3
mkdir -p "$OUT"
printf '%s\n' "$vkey" >"$OUT/vkey"
"$BIN/ledger" export --url http://127.0.0.1:18471 --out "$OUT/filtered" --actor-id alice --since 2026-11-01T00:00:00Z --until 2026-11-03T00:00:00Z --vkey "$vkey"
"$BIN/ledger" export --url http://127.0.0.1:18471 --out "$OUT/range" --from 1 --to 5 --vkey "$vkey"
q='actor_id=alice&since=2026-11-01T00:00:00Z&until=2026-11-03T00:00:00Z'
curl -sSf "http://127.0.0.1:18471/v1/export?$q" >"$SERVER_OUT/golden-export.ndjson"
curl -sSf "http://127.0.0.1:18471/v1/export?$q&format=csv" >"$SERVER_OUT/golden-export.csv"
curl -sSf "http://127.0.0.1:18471/v1/events?$q&limit=2" >"$SERVER_OUT/golden-query.json"
"$BIN/verifier" export "$OUT/filtered" --vkey "$vkey"
"$BIN/verifier" export "$OUT/range" --vkey "$vkey"
