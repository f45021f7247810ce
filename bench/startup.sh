#!/bin/bash
# startup.sh [ZONEFILE] — start-up time and memory of signpostd on a big zone,
# measured like ../shared/bench/loadtime.sh measures the peers: seconds from
# launch until the zone answers SOA, peak RSS (/usr/bin/time), and RSS 1 s
# after ready. Run loadtime.sh (PEERS=knot CHECKS=) in the same session and
# quote the ratio.
set -u
T="$(cd "$(dirname "$0")/../../shared/bench" && pwd)"
BIG=${1:-/tmp/peerbench/data/bench.test.1m.zone}
[ -s "$BIG" ] || python3 "$T/gen-zone.py" --records 1000000 --out "$BIG"
BIN="$(cd "$(dirname "$0")/.." && pwd)/target/release/signpostd"
PORT=${PORT:-5306}
W=$(mktemp -d)
T0=$(date +%s.%N)
/usr/bin/time -v -o "$W/time.txt" "$BIN" --listen 127.0.0.1:$PORT --zone bench.test="$BIG" --workers 1 >"$W/out" 2>"$W/err" &
TPID=$!
sleep 0.05
SPID=$(ps -o pid= --ppid $TPID | head -1 | tr -d ' ')
R=$(python3 "$T/wait-ready.py" "$PORT" --addr 127.0.0.1 --zone bench.test. --since "$T0" --pid "$SPID" --timeout 600) || R=fail
sleep 1
RSS=$(awk '/VmRSS/{print $2}' /proc/"$SPID"/status)
kill "$SPID"; wait $TPID 2>/dev/null
printf 'signpostd-startup\t%s\t%s\t%.0f\n' "$R" \
  "$(awk -F': ' '/Maximum resident set size/{printf "%.0f", $2/1024}' "$W/time.txt")" "$(echo "$RSS/1024" | bc -l)"
rm -rf "$W"
