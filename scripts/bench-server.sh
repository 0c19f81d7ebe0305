#!/bin/bash
# Load benchmark of `atrest serve` (a benchmark, not a test: it checks nothing, it prints figures for
# docs/benchmarks.md). A release build serves a new store on 127.0.0.1 over TLS 1.3 (HTTP/1.1: wrk does not
# speak HTTP/2); wrk (OpenSSL) drives it:
#   - small puts/s: PUT of ~200-byte documents, each a new id, collection indexed on /city;
#   - gets/s: random GETs of ATREST_DOCS documents of that kind loaded first;
#   each at 1, 4, 16, 64 and 256 connections (CONNS), DURATION each, with p50/p99 latency;
#   - bulk import MB/s: `atrest bench`'s generated documents (IMPORT_MIB of them, 1-4 KiB each) streamed by curl
#     to POST /v1/collections/{c}/import, indexing all and none, against the in-process durable ingest of the
#     same documents (the `ingest` example of atrest-bench, what `atrest bench` measures).
# Usage: scripts/bench-server.sh            (DURATION=10s CONNS="1 4 16 64 256" IMPORT_MIB=256 ATREST_DOCS=200000)
# Installs wrk (Debian package) if missing. Run time: about 3 minutes with the defaults, plus the build.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
command -v wrk >/dev/null || apt_install wrk || { echo "ERROR: could not install wrk (apt-get install wrk)" >&2; exit 1; }
command -v curl >/dev/null || apt_install curl || { echo "ERROR: could not install curl" >&2; exit 1; }
DURATION=${DURATION:-10s}
CONNS=${CONNS:-"1 4 16 64 256"}
IMPORT_MIB=${IMPORT_MIB:-256}
export ATREST_DOCS=${ATREST_DOCS:-200000}

cargo build --release -q -p atrest-cli
cargo build --release -q -p atrest-bench --examples
A=$PWD/target/release/atrest
EX=$PWD/target/release/examples
W=$(mktemp -d "${TMPDIR:-/tmp}/atrest-bench-server.XXXXXX")
SERVER=
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; wait 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
export HOME=$W XDG_CONFIG_HOME=$W/cfg

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, $(uname -r)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (the machine may be shared with other work)"
$A init --data "$W/data" >/dev/null
export ATREST_TOKEN=$($A --data "$W/data" token create 2>/dev/null)
$A --data "$W/data" serve --listen 127.0.0.1:0 >"$W/banner" 2>"$W/server.log" &
SERVER=$!
for _ in $(seq 200); do grep -q '^listening on' "$W/banner" 2>/dev/null && break; sleep 0.1; done
URL=$(sed -n 's/^listening on //p' "$W/banner")
[ -n "$URL" ] || { echo "ERROR: the server did not start:" >&2; cat "$W/server.log" >&2; exit 1; }
CA=$(sed -n 's/^certificate \(.*\) (.*)$/\1/p' "$W/banner")
call() { curl -sS --fail-with-body --cacert "$CA" -H "Authorization: Bearer $ATREST_TOKEN" "$@"; }
echo "server: $URL ($($A --version))"
call -X POST --data-binary '{"index":["/city"]}' "$URL/v1/collections/small" >/dev/null

# wrk's summary as: rate p50 p99 non-2xx
run_wrk() { # SCRIPT CONNECTIONS
  local c=$2 t=2
  [ "$c" -lt 2 ] && t=1
  wrk -t"$t" -c"$c" -d"$DURATION" --latency -s "scripts/bench-server/$1" "$URL" >"$W/wrk.out" 2>&1 || true
  local rate p50 p99 bad
  rate=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$W/wrk.out")
  p50=$(awk '$1 == "50%" {print $2}' "$W/wrk.out")
  p99=$(awk '$1 == "99%" {print $2}' "$W/wrk.out")
  bad=$(awk '/Non-2xx/ {print $NF}' "$W/wrk.out")
  echo "${rate:-?} ${p50:-?} ${p99:-?} ${bad:-0}"
  if [ -z "$rate" ]; then cat "$W/wrk.out" >&2; fi
}

echo
echo "| operation | connections | requests/s | p50 | p99 | non-2xx |"
echo "|---|---|---|---|---|---|"
for c in $CONNS; do
  read -r rate p50 p99 bad < <(run_wrk put.lua "$c")
  echo "| small put | $c | $rate | $p50 | $p99 | $bad |"
done
# The documents the gets read: ids g0 .. g(ATREST_DOCS-1), loaded by one import.
awk -v n="$ATREST_DOCS" 'BEGIN { for (i = 0; i < n; i++) printf "{\"id\":\"g%d\",\"name\":\"user %d\",\"city\":\"Oslo\",\"age\":%d,\"active\":true,\"tags\":[\"a\",\"b\",\"c\"],\"address\":{\"street\":\"%d Long Street\",\"zip\":\"%05d\"},\"note\":\"a small document of about two hundred bytes\"}\n", i, i, i % 90, i % 1000, i % 100000 }' >"$W/gets.jsonl"
call --data-binary @"$W/gets.jsonl" "$URL/v1/collections/small/import" >/dev/null
for c in $CONNS; do
  read -r rate p50 p99 bad < <(run_wrk get.lua "$c")
  echo "| get | $c | $rate | $p50 | $p99 | $bad |"
done

# Bulk import through the server against in-process ingest of the same documents.
"$EX/jsonl" "$IMPORT_MIB" >"$W/bulk.jsonl" 2>"$W/jsonl.log"
doc_bytes=$(sed -n 's/.* documents, \([0-9]*\) bytes of documents/\1/p' "$W/jsonl.log")
echo
echo "| bulk import of $IMPORT_MIB MiB ($(cut -d, -f1 "$W/jsonl.log")) | indexing | MB/s of documents | in-process ingest MB/s | ratio |"
echo "|---|---|---|---|---|"
for policy in none all; do
  call -X POST --data-binary "{\"index\":\"$policy\"}" "$URL/v1/collections/bulk-$policy" >/dev/null
  start=$(date +%s.%N)
  call -H 'Content-Type: application/x-ndjson' -T "$W/bulk.jsonl" -X POST "$URL/v1/collections/bulk-$policy/import?batch=10000" >"$W/import.out"
  end=$(date +%s.%N)
  server=$(awk -v b="$doc_bytes" -v s="$start" -v e="$end" 'BEGIN { printf "%.0f", b / (e - s) / 1e6 }')
  rm -rf "$W/ingest"
  local_rate=$("$EX/ingest" "$W/ingest" "$IMPORT_MIB" "$policy" | sed -n 's/^\([0-9]*\) MB\/s of documents.*/\1/p')
  ratio=$(awk -v a="$server" -v b="$local_rate" 'BEGIN { printf "%.2f", a / b }')
  echo "| via the server (curl, one TLS connection) | $policy | $server | $local_rate | ${ratio}x |"
done
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
