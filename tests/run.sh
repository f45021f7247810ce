#!/bin/sh
# Installs what the tests need (Debian packages: knotd as the reference
# peer, BIND's zone compiler and DNSSEC tools, dig and delv, kdig as a
# second TSIG checker; lintian, systemd-analyze and adduser for the
# package; Python's prometheus_client to parse /metrics, fstrm_capture as
# a dnstap collector; cargo-deb from crates.io),
# builds the workspace and runs the whole test suite.
set -eu
cd "$(dirname "$0")/.."
if command -v apt-get >/dev/null 2>&1; then
    need=""
    has() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
    has knotd || need="$need knot"
    { has named-compilezone && has dnssec-dsfromkey; } || need="$need bind9-utils"
    { has dig && has delv; } || need="$need bind9-dnsutils"
    has kdig || need="$need knot-dnsutils"
    has lintian || need="$need lintian"
    has systemd-analyze || need="$need systemd"
    has adduser || need="$need adduser"
    /usr/bin/python3 -c 'import prometheus_client' 2>/dev/null || need="$need python3-prometheus-client"
    has fstrm_capture || need="$need fstrm-bin"
    if [ -n "$need" ]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q
        # shellcheck disable=SC2086
        apt-get install -y -q --no-install-recommends $need
    fi
fi
export PATH="$PATH:/usr/sbin"
# cargo-deb makes the Debian package the packaging test installs.
command -v cargo-deb >/dev/null 2>&1 || cargo install --locked cargo-deb
cargo build --release --workspace
exec cargo test --release --all-targets
