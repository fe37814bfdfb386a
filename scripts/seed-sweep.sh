#!/usr/bin/env bash
# Runs one scenario over many seeds and summarises the pass rate and key figures.
# Usage: scripts/seed-sweep.sh SCENARIO NODES FIRST_SEED LAST_SEED [extra simulate flags]
set -euo pipefail
cd "$(dirname "$0")/.."
scenario="$1"; nodes="$2"; first="$3"; last="$4"; shift 4
swift build -c release --product colony >/dev/null
for seed in $(seq "$first" "$last"); do
    .build/release/colony simulate --scenario "$scenario" --nodes "$nodes" --seed "$seed" --json "$@" 2>/dev/null || true
done | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.startswith("{")]
def pick(d):
    x = d["detectionAllMs"] or d["convergenceMs"]
    return x["p50"] if x else None
vals = [pick(d) for d in rows if pick(d) is not None]
heal = [d["healMs"] for d in rows if d["healMs"] is not None]
fp = sum(d["falsePositives"] or 0 for d in rows)
passed = sum(1 for d in rows if d["passed"])
vals.sort()
print(f"runs {len(rows)}, passed {passed}, false positives {fp}")
if vals: print(f"p50 per run (ms): min {vals[0]:.0f}, median {vals[len(vals)//2]:.0f}, max {vals[-1]:.0f}")
if heal: print(f"heal (ms): min {min(heal):.0f}, max {max(heal):.0f}")
for d in rows:
    if not d["passed"]: print("FAILED:", d["reproduce"], d["failure"], d["violations"][:2])
'
