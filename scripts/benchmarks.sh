#!/usr/bin/env bash
# Runs the simulator benchmarks of docs/benchmarks.md (release build) and prints one
# markdown row per run. Usage: scripts/benchmarks.sh [seed]
set -euo pipefail
cd "$(dirname "$0")/.."
seed="${1:-1}"
swift build -c release --product colony >/dev/null
bin=.build/release/colony
row() {
    local json
    json="$("$bin" simulate "$@" --seed "$seed" --json 2>/dev/null || true)"
    python3 - "$json" "$*" <<'PY'
import json, sys
d = json.loads(sys.argv[1]); args = sys.argv[2]
def dist(x): return "—" if x is None else f"{x['p50']:.0f} / {x['p99']:.0f} / {x['max']:.0f}"
def num(x, f="{:.0f}"): return "—" if x is None else f.format(x)
print(f"| `{args}` | {dist(d['convergenceMs'])} | {num(d['detectionFirstMs'])} | {dist(d['detectionAllMs'])} | "
      f"{num(d['falsePositives'], '{}')} | {num(d['healMs'])} | {num(d['bytesPerNodePerSecond'], '{:.1f}')} | "
      f"{d['wallSeconds']:.1f} | {d['peakMemoryBytes']/1e6:.0f} | {'yes' if d['passed'] else 'NO'} |")
PY
}
echo "| run (seed $seed) | convergence p50/p99/max ms | first detection ms | detection all p50/p99/max ms | false pos. | heal ms | B/node/s | wall s | peak MB | passed |"
echo "|---|---|---|---|---|---|---|---|---|---|"
row --scenario join --nodes 1000 --profile lan
row --scenario join --nodes 10000 --profile lan
row --scenario join --nodes 1000 --profile lan --loss 0.1
row --scenario join --nodes 10000 --profile lan --loss 0.1
row --scenario bootstrap --nodes 200 --profile lan
row --scenario crash --nodes 100 --profile lan
row --scenario pause --nodes 100 --profile lan
row --scenario partition --nodes 100 --profile lan
row --scenario steady --nodes 100 --profile lan
row --scenario steady --nodes 10000 --profile lan
row --scenario steady --nodes 10000 --profile lan --duration 60
row --scenario join --nodes 10000 --profile lan --loss 0.05 --duplicate 0.05 --reorder 0.1
row --scenario bootstrap --nodes 1000 --profile lan
row --scenario partition --nodes 1000 --profile lan
row --scenario crash --nodes 1000 --profile lan
row --scenario join --nodes 100 --profile wan
row --scenario crash --nodes 100 --profile wan
row --scenario join --nodes 100 --profile local
