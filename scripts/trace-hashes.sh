#!/usr/bin/env bash
# Prints the trace hash of each run that must replay identically across a refactor (issue 16):
# one "args<TAB>hash" line per run. Compare two commits with
#   scripts/trace-hashes.sh > before.tsv; (change); scripts/trace-hashes.sh > after.tsv; diff before.tsv after.tsv
# Usage: scripts/trace-hashes.sh [--no-build] [--quick] [--check]
#   --quick  skips hive N=1000;  --check  compares with scripts/trace-hashes.expected and exits 1
#   on any difference. The expected hashes are those of the newest intended behaviour change:
#   b0d3ebd's for the restructuring of issue 16 (which kept them), then issue 17's changes to the
#   protocol (the loss-aware helper audit; news that rides on the hive's messages without spending
#   its transmissions; no lone verdicts from a node that cannot hear; suspects told directly),
#   which moved every run with suspicions or the hive (join, bootstrap and steady kept theirs);
#   then issue 18's byzantine findings (suspicions and deaths at incarnations a signing member
#   never claimed are ignored; events are no longer dropped by a Lamport window), which moved
#   the one authenticated run, evict N=200 (still 4/4 offenders evicted, 0 honest); then issue
#   18's last part: datagram answers to senders with no standing bounded by the request's size
#   (moved bootstrap, split and state-chaos, where some datagrams come from members not yet
#   attributable, such as new members' first pings, and now get bare answers; convergence,
#   heal and delivery within 1 %), and evictions issued by the accused's own queen
#   (moved evict N=200: still 4/4 evicted, 0 honest, evict p50 2.2 s -> 2.4 s); then workers'
#   signed pledges to their queens and the cell quorum for evictions (moved every hive run: a
#   pledge datagram per worker as it accepts a queen and every 200 rounds; at-rest load of hive
#   N=1000 3,358 B/node/s against 3,389 with pledges turned off, failover and splits unchanged;
#   evict N=200: the flooders, which flood two members, are graylisted, not evicted); pledges
#   then gained a signing time and are re-signed every 10 s (moved the same runs again).
set -euo pipefail
cd "$(dirname "$0")/.."
build=yes; quick=""; check=""
for a in "$@"; do
    case "$a" in
        --no-build) build="" ;;
        --quick) quick=yes ;;
        --check) check=yes ;;
        *) echo "unknown argument $a" >&2; exit 2 ;;
    esac
done
[ -n "$build" ] && swift build -c release --product colony >/dev/null
bin=.build/release/colony
runs=(
    "--scenario join --nodes 1000 --seed 1"
    "--scenario bootstrap --nodes 200 --seed 1"
    "--scenario steady --nodes 100 --seed 1"
    "--scenario crash --nodes 100 --seed 1"
    "--scenario partition --nodes 100 --seed 1"
    "--scenario state-chaos --nodes 100 --seed 1 --loss 0.05 --duplicate 0.02 --reorder 0.05"
    "--scenario abuse --nodes 100 --seed 1"
    "--scenario queen-loss --nodes 100 --seed 1"
    "--scenario split --nodes 100 --seed 1"
    "--scenario evict --nodes 200 --seed 1"
    "--scenario hive-safety --nodes 40 --seed 1 --loss 0.05"
    "--scenario hive --nodes 100 --seed 1"
)
[ -z "$quick" ] && runs+=("--scenario hive --nodes 1000 --seed 1")
status=0
for args in "${runs[@]}"; do
    # shellcheck disable=SC2086
    hash="$("$bin" simulate $args --json 2>/dev/null | sed -nE 's/.*"traceHash": *"([0-9a-f]+)".*/\1/p' | head -1)"
    line="$(printf '%s\t%s' "$args" "${hash:-FAILED}")"
    if [ -n "$check" ]; then
        if grep -qxF -- "$line" scripts/trace-hashes.expected; then
            echo "same     $line"
        else
            echo "CHANGED  $line (expected: $(grep -F -- "$args	" scripts/trace-hashes.expected | cut -f2))"
            status=1
        fi
    else
        echo "$line"
    fi
done
exit $status
