#!/usr/bin/env bash
# Instruction counts of the Weft comparison programs under callgrind: a
# measure that does not move with the machine's load (wall times on a shared
# machine do). Prints one Markdown row per program with the total
# instructions executed (Ir) and keeps each profile in
# benches/compare/results/callgrind.NAME.out (inspect one with
# `callgrind_annotate FILE | head -40`).
#
# usage: benches/compare/callgrind.sh [--no-build] [--label L] [PROGRAM...]
#   --label L    a column label (default: the current commit)
#   PROGRAM...   default: every NAME.weft of run.sh's list
# Environment: WEFT_BIN (see lib.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build=1
label=""
programs=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --no-build) build=0 ;;
        --label)
            [[ $# -ge 2 ]] || die "--label needs a value"
            label=$2
            shift
            ;;
        -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        -*) die "unknown option $1 (try --help)" ;;
        *)
            [[ -f $COMPARE_DIR/$1.weft ]] || die "unknown program '$1'"
            programs+=("$1")
            ;;
    esac
    shift
done
command -v valgrind >/dev/null 2>&1 || die "valgrind is not installed (apt-get install -y valgrind)"
resolve_weft "$build"
[[ -n $label ]] || label=$(cd "$REPO_ROOT" && git rev-parse --short HEAD 2>/dev/null || echo weft)
if [[ ${#programs[@]} -eq 0 ]]; then
    # shellcheck source=programs.sh
    source "$COMPARE_DIR/programs.sh"
    programs=("${SEQUENTIAL_PROGRAMS[@]}")
fi
results_dir=$COMPARE_DIR/results
mkdir -p "$results_dir"

echo "| program | Ir ($label) |"
echo "|---|---:|"
for prog in "${programs[@]}"; do
    out=$results_dir/callgrind.$prog.out
    valgrind --tool=callgrind --callgrind-out-file="$out" \
        "$WEFT" "$COMPARE_DIR/$prog.weft" >/dev/null 2>"$out.log" ||
        die "$prog failed under callgrind (see $out.log)"
    ir=$(awk '/^summary:/ { print $2 }' "$out")
    printf '| %s | %s |\n' "$prog" "$ir"
done
