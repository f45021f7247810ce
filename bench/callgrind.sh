#!/bin/bash
# callgrind.sh [SIGNPOSTD] — instructions per answer, counted by callgrind:
# a figure machine noise does not move, for before/after comparisons of the
# query path (quote it beside compare.sh's ratios).
#
# For each variant (plain: the shared 10,000-name benchmark zone; weighted
# and geo: the same zone with every A/AAAA RRset turned into policy sets by
# bench/policy-zones.py, as for bench/policy.sh) it runs SIGNPOSTD under
# callgrind twice, once answering N queries and once 2N, one query at a
# time from the shared query file, and prints
# (instructions(2N) - instructions(N)) / N: the user-space
# cost of receiving, answering and sending one query, start-up cancelled
# out. Every reply is awaited, so each recvmmsg returns one datagram and the
# count does not depend on timing. N defaults to 2000 (CALLGRIND_QUERIES).
# Instrumentation starts only once the server is ready (callgrind_control):
# loading a large zone runs on two threads whose interleaving, and so cost,
# varies from run to run. Each count is still the smallest of
# CALLGRIND_REPEATS runs (default 3), for any stray background work.
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
T="$(cd "$REPO/../shared/bench" && pwd)"
. "$T/lib.sh"
ensure_data
BIN=${1:-$REPO/target/release/signpostd}
N=${CALLGRIND_QUERIES:-2000}
REPEATS=${CALLGRIND_REPEATS:-3}
W=${CALLGRIND_DIR:-/tmp/signpost-callgrind}
mkdir -p "$W"
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }

python3 "$HERE/policy-zones.py" "$ZONE" "$W" || exit 1
cat > "$W/geo.toml" <<TOML
[server]
listen = ["127.0.0.1:0"]
# Benchmarks run as whoever starts them, root included.
allow_root = true
[geo]
database = "$REPO/tests/data/geo/test-city.mmdb"
[[zone]]
name = "$ZONE_NAME"
file = "$W/geo.zone"
TOML

# Instructions of one server run answering $2 queries; $1 are its arguments.
count() {
  local args=$1 queries=$2 out="$W/callgrind.out" log="$W/server.log"
  rm -f "$out"
  # shellcheck disable=SC2086
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" "$BIN" $args \
    --listen 127.0.0.1:0 --workers 1 --no-watch >"$W/stdout" 2>"$log" &
  local pid=$!
  local port=""
  for _ in $(seq 600); do
    port=$(sed -n 's/^listening udp=127.0.0.1:\([0-9]*\) .*/\1/p' "$W/stdout" 2>/dev/null | head -1)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { echo "server did not start: $(tail -3 "$log")" >&2; kill "$pid"; return 1; }
  callgrind_control -i on "$pid" >/dev/null 2>&1 || { kill "$pid"; return 1; }
  python3 - "$QUERIES" "$port" "$queries" <<'PY' || { kill "$pid"; return 1; }
import random, socket, struct, sys
path, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
types = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28, "SRV": 33, "ANY": 255}
queries = []
for line in open(path):
    parts = line.split()
    if len(parts) >= 2 and parts[1] in types:
        queries.append((parts[0], types[parts[1]]))
    if len(queries) >= n:
        break
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(30)
for i in range(n):
    name, qtype = queries[i % len(queries)]
    wire = b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".")) + b"\0"
    packet = struct.pack(">HHHHHH", i & 0xffff, 0, 1, 0, 0, 0) + wire + struct.pack(">HH", qtype, 1)
    s.sendto(packet, ("127.0.0.1", port))
    s.recvfrom(4096)
PY
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null
  sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$out"
}

# The smallest count of $REPEATS runs.
least() {
  local best="" c
  for _ in $(seq "$REPEATS"); do
    c=$(count "$1" "$2") || return 1
    if [ -z "$best" ] || [ "$c" -lt "$best" ]; then best=$c; fi
  done
  echo "$best"
}

for variant in plain weighted geo; do
  case $variant in
    plain) args="--zone $ZONE_NAME=$ZONE" ;;
    weighted) args="--zone $ZONE_NAME=$W/weighted.zone" ;;
    geo) args="-c $W/geo.toml" ;;
  esac
  one=$(least "$args" "$N") || exit 1
  two=$(least "$args" $((2 * N))) || exit 1
  echo "$variant: $(( (two - one) / N )) instructions per answer ($N queries: $one, $((2 * N)): $two)"
done
