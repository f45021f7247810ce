#!/bin/bash
# policy.sh [ROUNDS] — qps of routing-policy answers against plain answers
# of the same server, in one run, round by round, with the shared harness
# (pinned: server on one CPU with one worker, dnsblast on the other).
#
# From the benchmark zone it derives two zones with the same names and data:
#   weighted  every A/AAAA RRset becomes a 70/30 weighted pair of sets
#   geo       every A/AAAA RRset becomes geolocation sets (EU, US, default),
#             answered by client location from tests/data/geo/test-city.mmdb
#             (the load comes from 127.0.0.1, which that database places in
#             Europe; dnsblast cannot send ECS, so the location comes from the
#             source address — the lookup is the same)
# Prints each variant's median qps and its ratio to plain.
#
# Then the same server, plain zone against geo zone queried with an EDNS
# Client Subnet option (192.0.2.0/24: DE in the test database), with
# bench/ecsload.rs as the generator, since dnsblast cannot send ECS; both
# sides of that ratio use the same generator, pinned the same way.
set -u
ROUNDS=${1:-3}
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
T="$(cd "$REPO/../shared/bench" && pwd)"
. "$T/lib.sh"
ensure_data
export LOADGEN=dnsblast BLAST_ARGS="-c 8 -w 16 -b 16 -l ${DURATION:-8}"
W=${POLICY_BENCH_DIR:-/tmp/signpost-policy-bench}
mkdir -p "$W"
BIN="$REPO/target/release/signpostd"
python3 "$HERE/policy-zones.py" "$ZONE" "$W" || exit 1
cat > "$W/geo.toml" <<TOML
[server]
listen = ["127.0.0.1:0"]
allow_root = true
[geo]
database = "$REPO/tests/data/geo/test-city.mmdb"
[[zone]]
name = "$ZONE_NAME"
file = "$W/geo.zone"
TOML
out="$W/results.tsv"; : > "$out"
for r in $(seq "$ROUNDS"); do
  "$T/run-cmd.sh" "$BIN --listen \$ADDR:\$PORT --zone \$ZONE_NAME=\$ZONE --workers 1 --no-watch" 5310 pinned plain | tee -a "$out"
  ZONE="$W/weighted.zone" "$T/run-cmd.sh" "$BIN --listen \$ADDR:\$PORT --zone \$ZONE_NAME=\$ZONE --workers 1 --no-watch" 5310 pinned weighted | tee -a "$out"
  "$T/run-cmd.sh" "$BIN -c $W/geo.toml --listen \$ADDR:\$PORT --workers 1 --no-watch" 5310 pinned geo | tee -a "$out"
done
python3 - "$out" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    f = line.split("\t")
    if len(f) > 3 and f[3].replace(".", "").isdigit():
        rows.setdefault(f[0], []).append(float(f[3]))
plain = statistics.median(rows.get("plain", [0]))
print(f"median qps: " + " ".join(f"{k}={statistics.median(v):.0f}" for k, v in rows.items()))
for k in ("weighted", "geo"):
    if k in rows and plain:
        print(f"ratio {k}/plain = {statistics.median(rows[k]) / plain:.2f}")
PY

# --- ECS: our own generator, same pinning (server on SERVER_CPU, load on
# CLIENT_CPU), same rounds.
cargo build -q --release --bench ecsload --manifest-path "$REPO/Cargo.toml" || exit 1
LOAD=$(ls -t "$REPO"/target/release/deps/ecsload-* | grep -v '\.d$' | head -1)
ecs_run() { # LABEL ECS CMD...
  local label=$1 ecs=$2; shift 2
  taskset -c "$SERVER_CPU" "$@" --listen 127.0.0.1:5311 --workers 1 --no-watch > /dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 100); do
    dig +short +time=1 +tries=1 @127.0.0.1 -p 5311 "$ZONE_NAME" SOA 2>/dev/null | grep -q . && break
    sleep 0.1
  done
  taskset -c "$CLIENT_CPU" "$LOAD" 127.0.0.1:5311 "$QUERIES" 1 $ecs > /dev/null
  printf '%s\t' "$label"
  taskset -c "$CLIENT_CPU" "$LOAD" 127.0.0.1:5311 "$QUERIES" "${DURATION:-8}" $ecs
  kill "$pid"; wait "$pid" 2> /dev/null
}
ecs_out="$W/ecs.tsv"; : > "$ecs_out"
for r in $(seq "$ROUNDS"); do
  ecs_run plain "" "$BIN" --zone "$ZONE_NAME=$ZONE" | tee -a "$ecs_out"
  ecs_run geo-ecs 192.0.2.0/24 "$BIN" -c "$W/geo.toml" | tee -a "$ecs_out"
done
python3 - "$ecs_out" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) > 2 and f[1] == "qps":
        rows.setdefault(f[0], []).append(float(f[2]))
if "plain" in rows and "geo-ecs" in rows:
    p, g = statistics.median(rows["plain"]), statistics.median(rows["geo-ecs"])
    print(f"ecsload median qps: plain={p:.0f} geo-ecs={g:.0f}")
    print(f"ratio geo-ecs/plain = {g / p:.2f}")
PY
