#!/usr/bin/env python3
"""policy-zones.py ZONE OUTDIR: the benchmark zone with every A/AAAA RRset
turned into routing-policy sets, for bench/policy.sh and bench/callgrind.sh.

  weighted.zone  every A/AAAA RRset a 70/30 weighted pair of sets
  geo.zone       every A/AAAA RRset geolocation sets (EU, US, default)

The apex and the name servers stay plain.
"""
import re
import sys

src, out = sys.argv[1], sys.argv[2]
rr = re.compile(r"^(\S+) IN (A|AAAA) (\S+)$")
weighted, geo = [], []
for line in open(src):
    line = line.rstrip("\n")
    m = rr.match(line)
    if not m or m.group(1) in ("@", "ns1", "ns2"):
        weighted.append(line)
        geo.append(line)
        continue
    weighted.append(f"{line} ;@ weighted id=a weight=70")
    weighted.append(f"{line} ;@ weighted id=b weight=30")
    geo.append(f"{line} ;@ geolocation id=eu continent=EU")
    geo.append(f"{line} ;@ geolocation id=us country=US")
    geo.append(f"{line} ;@ geolocation id=any location=*")
open(f"{out}/weighted.zone", "w").write("\n".join(weighted) + "\n")
open(f"{out}/geo.zone", "w").write("\n".join(geo) + "\n")
