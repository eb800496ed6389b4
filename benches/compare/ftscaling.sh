#!/usr/bin/env bash
# Per-worker scaling (issue 13): runs each pattern of ftscaling.weft with
# WEFT_WORKERS=1 and WEFT_WORKERS=2, alternating, N times each, keeps the
# best time of every pattern per worker count and prints a Markdown table
# with the 2-vs-1 speedup (target: >= 1.8x for every pattern) and the CPU
# time each configuration used (on a loaded machine the wall-time speedup
# is capped by the load; a CPU ratio near 1.00 says 2 workers did no extra
# work, i.e. no contention).
#
# usage: benches/compare/ftscaling.sh [--runs N] [--no-build] [ITERS]
#   --runs N     alternating runs per worker count (default 3)
#   --no-build   use the existing target/release/weft
#   ITERS        loop iterations per item, times each pattern's weight
#                (default: the script's 100,000)
# Environment: WEFT_BIN (see lib.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

runs=3
build=1
iters=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --runs)
            [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || die "--runs needs a positive integer"
            runs=$2
            shift
            ;;
        --no-build) build=0 ;;
        -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        -*) die "unknown option $1 (try --help)" ;;
        *)
            [[ $1 =~ ^[1-9][0-9]*$ ]] || die "ITERS must be a positive integer, got '$1'"
            iters=("$1")
            ;;
    esac
    shift
done
resolve_weft "$build"
command -v /usr/bin/time >/dev/null 2>&1 || die "/usr/bin/time is not installed (apt-get install -y time)"
PATTERNS=(calls closures containers module_vars string_consts methods shared_list)
samples=$(mktemp)
cpu=$(mktemp)
trap 'rm -f "$samples" "$cpu"' EXIT
# One process per pattern, worker count and run, alternating worker counts:
# the script's own line is the wall time of the pattern's loop; the
# process's user+system CPU time shows whether 2 workers do more work than
# 1 (contention) independently of how loaded the machine is.
for ((r = 0; r < runs; r++)); do
    note "run $((r + 1))/$runs"
    for p in "${PATTERNS[@]}"; do
        for w in 1 2; do
            line=$(WEFT_WORKERS=$w run_checked "ftscaling $p (workers=$w)" \
                /usr/bin/time -f '%U %S' -o "$cpu" \
                "$WEFT" "$COMPARE_DIR/ftscaling.weft" "${iters[@]:-100000}" 1 "$p")
            echo "$w $line $(awk '{ print $1 + $2 }' "$cpu")" >>"$samples"
        done
    done
done
echo "Best of $runs alternating runs per worker count (one process per pattern)."
echo
echo "| pattern | 1 worker s | 2 workers s | 2 vs 1 (wall) | CPU s, 1 worker | CPU s, 2 workers | CPU 2 / CPU 1 |"
echo "|---|---:|---:|---:|---:|---:|---:|"
awk '
    { k = $2; if (!(k in seen)) { seen[k] = 1; order[++n] = k }
      if (!(($1, k) in best) || $3 < best[$1, k]) best[$1, k] = $3
      if (!(($1, k) in cpu) || $4 < cpu[$1, k]) cpu[$1, k] = $4 }
    END { for (i = 1; i <= n; i++) { k = order[i]
        printf "| %s | %.4f | %.4f | %.2fx | %.2f | %.2f | %.2f |\n", k, best[1, k], best[2, k],
            best[1, k] / best[2, k], cpu[1, k], cpu[2, k], cpu[2, k] / cpu[1, k] } }
' "$samples"
