#!/bin/sh
# observed.sh off|metrics|log — serves the benchmark zone for compare.sh
# with the observability features off, with the metrics endpoint on, or
# with metrics and a JSON query log sampling one query in 100:
#
#   ../shared/bench/compare.sh 'bench/observed.sh off' 3
#   ../shared/bench/compare.sh 'bench/observed.sh metrics' 3
#   ../shared/bench/compare.sh 'bench/observed.sh log' 3
#
# Query counters are kept either way (per thread, summed at scrape time);
# `off` has no endpoint to read them. SIGNPOSTD picks another binary (a
# baseline build, for before/after).
set -eu
mode=${1:-off}
here=$(cd "$(dirname "$0")" && pwd)
bin=${SIGNPOSTD:-$here/../target/release/signpostd}
conf=$WORKDIR/observed-$mode.toml
{
    printf '[server]\nlisten = ["%s:%s"]\nworkers = %s\nwatch = false\nallow_root = true\n\n' \
        "$ADDR" "$PORT" "${THREADS:-1}"
    case $mode in
    metrics | log) printf '[metrics]\nlisten = "127.0.0.1:0"\n\n' ;;
    esac
    case $mode in
    log) printf '[query_log]\njson = "%s/queries.jsonl"\nsample = 100\n\n' "$WORKDIR" ;;
    esac
    printf '[[zone]]\nname = "%s"\nfile = "%s"\n' "$ZONE_NAME" "$ZONE"
} >"$conf"
exec "$bin" -c "$conf"
