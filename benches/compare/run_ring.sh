#!/usr/bin/env bash
# thread-ring: Weft (thread_ring.weft) against the Go original
# (thread_ring.go, built with the installed go), side by side in one run with
# hyperfine; prints both medians and the ratio weft/go.
#
# usage: benches/compare/run_ring.sh [--runs N] [--no-build] [--workers W] [PASSES]
#   PASSES      token passes (default 1000000)
#   --workers W weft --workers W (default 2)
# Environment: WEFT_BIN (a weft binary; nothing is built), GO (default go).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

runs=5
build=1
workers=2
passes=1000000
while [[ $# -gt 0 ]]; do
    case $1 in
        --runs) runs=$2; shift ;;
        --no-build) build=0 ;;
        --workers) workers=$2; shift ;;
        -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        -*) die "unknown option $1 (try --help)" ;;
        *) passes=$1 ;;
    esac
    shift
done
[[ $passes =~ ^[0-9]+$ ]] || die "PASSES must be a number"
GO=${GO:-go}
command -v "$GO" >/dev/null || die "go is not installed (apt-get install -y golang-go)"
command -v hyperfine >/dev/null || die "hyperfine is not installed (apt-get install -y hyperfine)"
resolve_weft "$build"

out=$COMPARE_DIR/results
mkdir -p "$out"
gobin=$out/thread_ring_go
(cd "$COMPARE_DIR" && GO111MODULE=off "$GO" build -o "$gobin" thread_ring.go)

want=$("$gobin" "$passes")
got=$("$WEFT" --workers "$workers" "$COMPARE_DIR/thread_ring.weft" "$passes")
[[ $want == "$got" ]] || die "outputs differ: go printed '$want', weft printed '$got'"

hyperfine --warmup 1 --runs "$runs" --export-json "$out/thread_ring.json" \
    -n go "$gobin $passes" \
    -n weft "$WEFT --workers $workers $COMPARE_DIR/thread_ring.weft $passes" >&2
"$PYTHON" - "$out/thread_ring.json" "$passes" "$workers" <<'PY'
import json, statistics, sys
data = json.load(open(sys.argv[1]))
med = {r["command"]: statistics.median(r["times"]) for r in data["results"]}
print(f"| thread-ring {sys.argv[2]} passes | go s | weft s (--workers {sys.argv[3]}) | weft/go |")
print("|---|---:|---:|---:|")
print(f"| median of {len(data['results'][0]['times'])} | {med['go']:.3f} | {med['weft']:.3f} | {med['weft'] / med['go']:.2f} |")
PY
