#!/usr/bin/env bash
# Side-by-side timing of the sequential comparison programs: Weft, CPython
# and (when lua5.4 is installed) Lua 5.4. Checks that every implementation
# prints the same output, then prints a Markdown table of median wall times.
#
# usage: benches/compare/run.sh [--quick] [--runs N] [--no-build] [PROGRAM...]
#   --quick      2 timed runs, no warmup (default: 5 runs after 1 warmup)
#   --runs N     N timed runs
#   --no-build   use the existing target/release/weft
#   PROGRAM...   a subset of the programs in programs.sh: fib loop nbody
#                fannkuch binary_trees strings list_churn map_churn and the
#                benchmarks-game bg_* programs (default: all)
# Environment: WEFT_BIN, PYTHON, LUA (see lib.sh). Uses hyperfine when it is
# installed and NO_HYPERFINE is unset (JSON exports are kept in
# benches/compare/results/), else a `date +%s.%N` timing loop.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# shellcheck source=programs.sh
source "$COMPARE_DIR/programs.sh"
ALL_PROGRAMS=("${SEQUENTIAL_PROGRAMS[@]}")
runs=5
warmup=1
build=1
programs=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --quick) runs=2; warmup=0 ;;
        --runs)
            [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || die "--runs needs a positive integer"
            runs=$2
            shift
            ;;
        --no-build) build=0 ;;
        -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        -*) die "unknown option $1 (try --help)" ;;
        *)
            [[ -f $COMPARE_DIR/$1.weft && -f $COMPARE_DIR/$1.py ]] ||
                die "unknown program '$1' (known: ${ALL_PROGRAMS[*]})"
            programs+=("$1")
            ;;
    esac
    shift
done
[[ ${#programs[@]} -gt 0 ]] || programs=("${ALL_PROGRAMS[@]}")

require_python
resolve_weft "$build"
use_lua=0
if have_lua; then use_lua=1; else note "no $LUA: the Lua column is skipped"; fi
use_hyperfine=0
if [[ -z ${NO_HYPERFINE:-} ]] && command -v hyperfine >/dev/null 2>&1; then
    use_hyperfine=1
else
    note "hyperfine not installed (or NO_HYPERFINE set): using a date-based timing loop"
fi
results_dir=$COMPARE_DIR/results
mkdir -p "$results_dir"

# The command line of one implementation of one program.
impl_cmd() {
    local impl=$1 prog=$2
    case $impl in
        weft) printf '%q %q' "$WEFT" "$COMPARE_DIR/$prog.weft" ;;
        cpython) printf '%q %q' "$PYTHON" "$COMPARE_DIR/$prog.py" ;;
        lua) printf '%q %q' "$LUA" "$COMPARE_DIR/$prog.lua" ;;
    esac
}

# median_of FILE: the median of the numbers in FILE, one per line.
median_of() {
    sort -g "$1" | awk '{ v[NR] = $1 } END {
        if (NR == 0) exit 1
        if (NR % 2) printf "%.6f\n", v[(NR + 1) / 2]
        else printf "%.6f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# time_loop CMD: median wall time of $runs runs after $warmup warmups.
time_loop() {
    local cmd=$1 i start end samples
    samples=$(mktemp)
    for ((i = 0; i < warmup; i++)); do bash -c "$cmd" >/dev/null; done
    for ((i = 0; i < runs; i++)); do
        start=$(date +%s.%N)
        bash -c "$cmd" >/dev/null
        end=$(date +%s.%N)
        awk -v s="$start" -v e="$end" 'BEGIN { printf "%.6f\n", e - s }' >>"$samples"
    done
    median_of "$samples"
    rm -f "$samples"
}

ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f\n", a / b }'
}

secs() {
    if [[ $1 == - ]]; then echo -; else awk -v a="$1" 'BEGIN { printf "%.3f\n", a }'; fi
}

rows=()
declare -A ratio_of=()
for prog in "${programs[@]}"; do
    impls=(weft cpython)
    [[ $use_lua == 1 && -f $COMPARE_DIR/$prog.lua ]] && impls+=(lua)

    # 1. Same output from every implementation, or stop.
    note "$prog: checking outputs (${impls[*]})"
    expected=$(run_checked "$prog (cpython)" bash -c "$(impl_cmd cpython "$prog")")
    for impl in "${impls[@]}"; do
        [[ $impl == cpython ]] && continue
        got=$(run_checked "$prog ($impl)" bash -c "$(impl_cmd "$impl" "$prog")")
        if [[ $got != "$expected" ]]; then
            echo "error: OUTPUT MISMATCH in $prog: $impl differs from cpython" >&2
            diff -u --label "cpython ($prog.py)" --label "$impl ($prog)" \
                <(printf '%s\n' "$expected") <(printf '%s\n' "$got") >&2 || true
            exit 1
        fi
    done

    # 2. Time them.
    declare -A t=([weft]=- [cpython]=- [lua]=-) c=([weft]=- [cpython]=- [lua]=-)
    if [[ $use_hyperfine == 1 ]]; then
        json=$results_dir/$prog.json
        args=()
        for impl in "${impls[@]}"; do args+=(-n "$impl" "$(impl_cmd "$impl" "$prog")"); done
        hyperfine --warmup "$warmup" --runs "$runs" --style basic \
            --export-json "$json" "${args[@]}" >&2 || die "hyperfine failed on $prog"
        # One median wall time and mean CPU time (user + system) per
        # command, in the order given.
        mapfile -t medians < <("$PYTHON" -c '
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print("%.6f %.6f" % (r["median"], r["user"] + r["system"]))' "$json")
        for i in "${!impls[@]}"; do
            read -r t[${impls[$i]}] c[${impls[$i]}] <<<"${medians[$i]}"
        done
    else
        for impl in "${impls[@]}"; do
            note "$prog: timing $impl ($runs runs)"
            t[$impl]=$(time_loop "$(impl_cmd "$impl" "$prog")")
        done
    fi
    ratio_of[$prog]=$(ratio "${t[weft]}" "${t[cpython]}")
    rows+=("| $prog | $(secs "${t[weft]}") | $(secs "${t[cpython]}") | $(secs "${t[lua]}") | $(ratio "${t[weft]}" "${t[cpython]}") | $(ratio "${t[weft]}" "${t[lua]}") | $(ratio "${c[weft]}" "${c[cpython]}") | $(ratio "${c[weft]}" "${c[lua]}") |")
    unset t c
done

echo
echo "Median wall time of $runs runs (outputs checked equal); the CPU columns"
echo "compare mean user+system CPU time (hyperfine only), which a loaded machine"
echo "inflates less than wall time."
echo
echo "| program | weft s | cpython s | lua s | weft/cpython | weft/lua | weft/cpython CPU | weft/lua CPU |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"

# The geometric mean of weft/cpython over the original eight programs, when
# all of them ran.
geo=$(for p in "${ORIGINAL_PROGRAMS[@]}"; do echo "${ratio_of[$p]:-}"; done |
    awk '$1 != "" && $1 != "-" { s += log($1); n++ } END { if (n == '"${#ORIGINAL_PROGRAMS[@]}"') printf "%.2f", exp(s / n) }')
if [[ -n $geo ]]; then
    echo
    echo "Geometric mean of weft/cpython over the original eight: $geo"
fi
