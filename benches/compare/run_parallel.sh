#!/usr/bin/env bash
# Runs the async-module comparison scripts (par_*.weft, chan_batch.weft) with
# WEFT_WORKERS=1 and 2 (and 16 for par_triangular: over-subscription on this
# machine), and their CPython twins (*.py). Prints every script's own lines,
# checks that all runs of a script print the same checksum line, then prints
# a Markdown table of the timings with derived ratios: the 2-vs-1-worker
# speedup and Weft (2 workers) against CPython (a 2-thread executor).
#
# usage: benches/compare/run_parallel.sh [--runs N] [--no-build] [SCRIPT...]
#   --runs N     run each configuration N times and keep the best time per
#                line (default 1)
#   --no-build   use the existing target/release/weft
#   SCRIPT...    a subset of: par_spawn par_map_1us par_map_cheap
#                par_triangular chan_batch (default: all)
# Environment: WEFT_BIN, PYTHON (see lib.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALL_SCRIPTS=(par_spawn par_map_1us par_map_cheap par_triangular chan_batch)
runs=1
build=1
scripts=()
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
            [[ -f $COMPARE_DIR/$1.weft ]] || die "unknown script '$1' (known: ${ALL_SCRIPTS[*]})"
            scripts+=("$1")
            ;;
    esac
    shift
done
[[ ${#scripts[@]} -gt 0 ]] || scripts=("${ALL_SCRIPTS[@]}")

require_python
resolve_weft "$build"

workers_for() {
    case $1 in
        par_triangular) echo "1 2 16" ;;
        *) echo "1 2" ;;
    esac
}

declare -A best=()  # "config|metric" -> best seconds; config is w1, w2, w16 or py
metrics=()          # metric names in order of first appearance
declare -A seen=()

# record CONFIG OUTPUT: keeps the best time of every `NAME: X.XXX s` line.
record() {
    local config=$1 line name value key
    while IFS= read -r line; do
        [[ $line =~ ^([A-Za-z0-9_./-]+):\ ([0-9]+(\.[0-9]+)?)\ s$ ]] || continue
        name=${BASH_REMATCH[1]}
        value=${BASH_REMATCH[2]}
        key="$config|$name"
        if [[ -z ${seen[$name]:-} ]]; then
            seen[$name]=1
            metrics+=("$name")
        fi
        if [[ -z ${best[$key]:-} ]] || awk -v a="$value" -v b="${best[$key]}" 'BEGIN { exit !(a < b) }'; then
            best[$key]=$value
        fi
    done <<<"$2"
}

# check_sum SCRIPT LABEL OUTPUT: every run of SCRIPT must print the same
# `checksum:` line.
declare -A checksum=()
check_sum() {
    local script=$1 label=$2 line
    line=$(grep -m1 '^checksum:' <<<"$3" || true)
    [[ -n $line ]] || die "$script ($label) printed no checksum line"
    if [[ -z ${checksum[$script]:-} ]]; then
        checksum[$script]=$line
    elif [[ ${checksum[$script]} != "$line" ]]; then
        echo "error: CHECKSUM MISMATCH in $script ($label):" >&2
        echo "    expected: ${checksum[$script]}" >&2
        echo "    got:      $line" >&2
        exit 1
    fi
}

# prefix TAG TEXT: prints every line of TEXT after TAG.
prefix() {
    local line
    while IFS= read -r line; do printf '%s %s\n' "$1" "$line"; done <<<"$2"
}

for script in "${scripts[@]}"; do
    echo "### $script"
    for ((r = 1; r <= runs; r++)); do
        for w in $(workers_for "$script"); do
            out=$(run_checked "$script (weft, $w workers)" env WEFT_WORKERS="$w" "$WEFT" "$COMPARE_DIR/$script.weft")
            prefix "[weft w=$w]" "$out"
            check_sum "$script" "weft, $w workers" "$out"
            record "w$w" "$out"
        done
        if [[ -f $COMPARE_DIR/$script.py ]]; then
            out=$(run_checked "$script (cpython)" "$PYTHON" "$COMPARE_DIR/$script.py")
            prefix "[cpython]" "$out"
            check_sum "$script" "cpython" "$out"
            record py "$out"
        fi
    done
    echo
done

cell() {
    local v=${best[$1]:-}
    if [[ -n $v ]]; then awk -v a="$v" 'BEGIN { printf "%.3f", a }'; else printf -- -; fi
}

ratio() {
    local a=${best[$1]:-} b=${best[$2]:-}
    if [[ -n $a && -n $b ]]; then
        awk -v a="$a" -v b="$b" 'BEGIN { if (b + 0 == 0) printf "-"; else printf "%.2f", a / b }'
    else
        printf -- -
    fi
}

echo "Best of $runs run(s) per configuration. speedup = (1 worker) / (2 workers);"
echo "weft/cpython = (weft, 2 workers) / (CPython, ThreadPoolExecutor(2))."
echo
echo "| metric | weft w=1 s | weft w=2 s | weft w=16 s | speedup 2 vs 1 | cpython s | weft/cpython |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for m in "${metrics[@]}"; do
    echo "| $m | $(cell "w1|$m") | $(cell "w2|$m") | $(cell "w16|$m") | $(ratio "w1|$m" "w2|$m") | $(cell "py|$m") | $(ratio "w2|$m" "py|$m") |"
done
