#!/usr/bin/env bash
# Per-worker scaling (issue 13): runs each pattern of ftscaling.weft with
# WEFT_WORKERS=1 and WEFT_WORKERS=2, alternating, N times each, keeps the
# best time of every pattern per worker count and prints a Markdown table
# with the 2-vs-1 speedup (target: >= 1.8x for every pattern) and the CPU
# time each configuration used (on a loaded machine the wall-time speedup
# is capped by the load; a CPU ratio near 1.00 says 2 workers did no extra
# work, i.e. no contention).
#
# The control: two independent 1-worker processes run at once, each doing
# the whole pattern. They share no memory, so what they lose against one
# process alone (the "2 procs / 1" column) is the machine's cost of running
# two busy cores (shared caches, memory bandwidth, the host), not Weft's;
# "2 workers / 2 procs" is what is left for Weft's own sharing (refcounts,
# shared cache lines, spinning). Each run is one sample of every
# configuration (alternating); CPU columns are medians, which a shared
# machine's load moves less than the best or worst sample (under load a
# process's CPU time goes down as well as up).
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
cpu_b=$(mktemp)
trap 'rm -f "$samples" "$cpu" "$cpu_b"' EXIT
total_cpu() { awk '{ print $1 + $2 }' "$1"; }
# One process per pattern, worker count and run, alternating worker counts:
# the script's own line is the wall time of the pattern's loop; the
# process's user+system CPU time shows whether 2 workers do more work than
# 1 (contention) independently of how loaded the machine is.
for ((r = 0; r < runs; r++)); do
    note "run $((r + 1))/$runs"
    for p in "${PATTERNS[@]}"; do
        args=("$COMPARE_DIR/ftscaling.weft" "${iters[@]:-100000}" 1 "$p")
        for w in 1 2; do
            line=$(WEFT_WORKERS=$w run_checked "ftscaling $p (workers=$w)" \
                /usr/bin/time -f '%U %S' -o "$cpu" "$WEFT" "${args[@]}")
            echo "$w $line $(total_cpu "$cpu")" >>"$samples"
        done
        # The control: two 1-worker processes at once (CPU per process).
        WEFT_WORKERS=1 /usr/bin/time -f '%U %S' -o "$cpu_b" "$WEFT" "${args[@]}" >/dev/null 2>&1 &
        other=$!
        WEFT_WORKERS=1 run_checked "ftscaling $p (two processes)" \
            /usr/bin/time -f '%U %S' -o "$cpu" "$WEFT" "${args[@]}" >/dev/null
        wait "$other" || die "ftscaling $p (two processes): the second process failed"
        echo "P $p 0 $(awk '{ s += $1 + $2 } END { print s / 2 }' "$cpu" "$cpu_b")" >>"$samples"
    done
done
echo "Best wall time and median CPU time of $runs alternating runs per configuration (one process per pattern)."
echo
echo "| pattern | 1 worker s | 2 workers s | 2 vs 1 (wall) | CPU s, 1 worker | CPU s, 2 workers | CPU s, each of 2 procs | CPU 2 / CPU 1 | 2 procs / 1 | 2 workers / 2 procs |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
awk '
    # a / b to two places, or "-" when b is 0 (a fake weft uses no CPU).
    function ratio(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "-" }
    function best(key,    n, i, v, b) {
        n = split(vals[key], v, " ")
        b = v[1]
        for (i = 2; i <= n; i++) if (v[i] < b) b = v[i]
        return b
    }
    function median(key,    n, i, j, t, v) {
        n = split(vals[key], v, " ")
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
        return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    }
    { k = $2; if (!(k in seen)) { seen[k] = 1; order[++n] = k }
      if ($1 != "P") vals["wall", $1, k] = vals["wall", $1, k] " " $3
      vals["cpu", $1, k] = vals["cpu", $1, k] " " $4 }
    END { for (i = 1; i <= n; i++) { k = order[i]
        w1 = best("wall" SUBSEP 1 SUBSEP k); w2 = best("wall" SUBSEP 2 SUBSEP k)
        c1 = median("cpu" SUBSEP 1 SUBSEP k); c2 = median("cpu" SUBSEP 2 SUBSEP k); cp = median("cpu" SUBSEP "P" SUBSEP k)
        printf "| %s | %.4f | %.4f | %sx | %.2f | %.2f | %.2f | %s | %s | %s |\n", k, w1, w2,
            ratio(w1, w2), c1, c2, cp, ratio(c2, c1), ratio(cp, c1), ratio(c2, cp) } }
' "$samples"
