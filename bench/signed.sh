#!/bin/bash
# signed.sh [ROUNDS] — signed answers (DO=1) against knotd serving the same
# zone signed ahead of time (ECDSA P-256, NSEC), with the shared harness;
# Signpost signs online (bench/signed-server.sh) with a warm cache.
set -u
ROUNDS=${1:-3}
REPO="$(cd "$(dirname "$0")/.." && pwd)"
cd "$REPO" || exit 1
cargo build -q --release --bins || exit 1
export QUERY_FLAGS=-D PEER_VARIANT=knot-sign PEERS=knot
exec ../shared/bench/compare.sh "$REPO/bench/signed-server.sh" "$ROUNDS"
