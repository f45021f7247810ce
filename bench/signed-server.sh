#!/bin/bash
# signed-server.sh — the server command of bench/signed.sh: serves $ZONE
# signed online with a key made once per $WORKDIR. Run by the shared
# harness, which exports ADDR PORT ZONE ZONE_NAME WORKDIR.
set -eu
REPO="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$WORKDIR/keys"
ls "$WORKDIR"/keys/*.pk8 > /dev/null 2>&1 ||
  "$REPO/target/release/signpostctl" keygen "$ZONE_NAME" --dir "$WORKDIR/keys" > /dev/null
printf '[server]\nlisten = ["%s:%s"]\nworkers = 1\nwatch = false\nallow_root = true\n[control]\nsocket = "%s"\n[[zone]]\nname = "%s"\nfile = "%s"\ndnssec = true\nkey_directory = "%s"\n' \
  "$ADDR" "$PORT" "$WORKDIR/control.sock" "$ZONE_NAME" "$ZONE" "$WORKDIR/keys" > "$WORKDIR/signed.toml"
exec "$REPO/target/release/signpostd" -c "$WORKDIR/signed.toml"
