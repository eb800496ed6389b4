#!/usr/bin/env bash
# Issue 10's targets (data parallelism v2), side by side in one run:
#   1. streaming parallel_map over a channel of N items of ~3 us each (K = 140)
#      (par_stream.weft) with 2 workers, against the same map run
#      sequentially on one thread, and against parallel_map over a list;
#      the list call also with the "today" binary (main before issue 10)
#   2. peak RSS streaming 10,000,000 small items with in_flight: 64
#      (par_stream_rss.weft)
#   3. parallel_reduce of 10,000,000 floats, reproducible tree against the
#      "today" binary's adaptive reduce, 2 workers, runs alternated
#      (par_reduce_floats.weft)
#   4. errors: "collect", init and retries against the plain call
#      (par_options.weft)
# and prints a Markdown table of the figures and ratios.
#
# usage: benches/compare/run_par2.sh [--rounds R] [--n N] [--no-build]
#   --rounds R   rounds for each script's best-of and for the alternated
#                reduce runs (default 3)
#   --n N        items for the streaming comparison (default 1000000)
#   --no-build   use the existing target/release/weft
# Environment: WEFT_BIN (this branch's binary), MAIN_BIN (the "today"
# binary; default: built from /work/main into /tmp/weft-main-target, or
# MAIN_SRC if set).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

rounds=3
n=1000000
build=1
while [[ $# -gt 0 ]]; do
    case $1 in
        --rounds) rounds=${2:?}; shift ;;
        --n) n=${2:?}; shift ;;
        --no-build) build=0 ;;
        -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) die "unknown argument $1 (try --help)" ;;
    esac
    shift
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "--rounds needs a positive integer"
[[ $n =~ ^[1-9][0-9]*$ ]] || die "--n needs a positive integer"

resolve_weft "$build"
if [[ -z ${MAIN_BIN:-} ]]; then
    src=${MAIN_SRC:-/work/main}
    note "building the 'today' binary from $src into /tmp/weft-main-target"
    cargo build --release --bin weft --manifest-path "$src/Cargo.toml" \
        --target-dir /tmp/weft-main-target >&2 || die "cannot build $src"
    MAIN_BIN=/tmp/weft-main-target/release/weft
fi
[[ -x $MAIN_BIN ]] || die "MAIN_BIN=$MAIN_BIN is not an executable"

# metric NAME OUTPUT: the seconds (or number) on the line `NAME: X`.
metric() {
    sed -n "s/^$1: \([0-9.]*\).*/\1/p" <<<"$2" | head -1
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

note "load before: $(cut -d' ' -f1-3 /proc/loadavg)"

# 1. Streaming.
s2=$(run_checked "par_stream w=2" env WEFT_WORKERS=2 "$WEFT" "$COMPARE_DIR/par_stream.weft" "$n" 140 "$rounds")
echo "$s2" | sed 's/^/[w=2] /'
s1=$(run_checked "par_stream w=1" env WEFT_WORKERS=1 "$WEFT" "$COMPARE_DIR/par_stream.weft" "$n" 140 "$rounds" map,map256)
echo "$s1" | sed 's/^/[w=1] /'
st=$(run_checked "par_stream today" env WEFT_WORKERS=2 "$MAIN_BIN" "$COMPARE_DIR/par_stream.weft" "$n" 140 "$rounds" list)
echo "$st" | sed 's/^/[today w=2] /'

# 2. Peak RSS (the script's VmHWM, and /usr/bin/time's maximum RSS).
rss_out=$(/usr/bin/time -f "maxrss_kb: %M" env WEFT_WORKERS=2 "$WEFT" "$COMPARE_DIR/par_stream_rss.weft" 10000000 64 2>&1)
echo "$rss_out" | sed 's/^/[rss] /'

# 3. Reductions, alternating the binaries.
best_new=""
best_old=""
for ((r = 1; r <= rounds; r++)); do
    o=$(run_checked "reduce new" env WEFT_WORKERS=2 "$WEFT" "$COMPARE_DIR/par_reduce_floats.weft" 10000000 3)
    t=$(metric par_reduce_floats "$o")
    [[ -z $best_new ]] || awk -v a="$t" -v b="$best_new" 'BEGIN { exit !(a < b) }' && best_new=$t
    o=$(run_checked "reduce today" env WEFT_WORKERS=2 "$MAIN_BIN" "$COMPARE_DIR/par_reduce_floats.weft" 10000000 3)
    t=$(metric par_reduce_floats "$o")
    [[ -z $best_old ]] || awk -v a="$t" -v b="$best_old" 'BEGIN { exit !(a < b) }' && best_old=$t
    echo "[reduce round $r] new $best_new today $best_old (best so far)"
done

# 4. Options.
op=$(run_checked "par_options" env WEFT_WORKERS=2 "$WEFT" "$COMPARE_DIR/par_options.weft" 200000 20 "$((rounds + 2))")
echo "$op" | sed 's/^/[options] /'

note "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

seq=$(metric par_stream_seq "$s2")
map2=$(metric par_stream_map "$s2")
map256_2=$(metric par_stream_map256 "$s2")
list2=$(metric par_stream_list "$s2")
list_today=$(metric par_stream_list "$st")
map1=$(metric par_stream_map "$s1")
map256_1=$(metric par_stream_map256 "$s1")
echo
echo "| target | figure | ratio | goal |"
echo "|---|---|---:|---|"
echo "| stream map (default in_flight), 2 workers vs sequential | $map2 s vs $seq s | $(ratio "$seq" "$map2")x | >= 1.8x |"
echo "| stream map (in_flight 256), 2 workers vs sequential | $map256_2 s vs $seq s | $(ratio "$seq" "$map256_2")x | >= 1.8x |"
echo "| stream map (default), 2 vs 1 worker | $map2 s vs $map1 s | $(ratio "$map1" "$map2")x | - |"
echo "| stream map (in_flight 256), 2 vs 1 worker | $map256_2 s vs $map256_1 s | $(ratio "$map256_1" "$map256_2")x | - |"
echo "| stream map (default) throughput vs today's list map | $map2 s vs $list_today s | $(ratio "$list_today" "$map2")x | >= 0.9x |"
echo "| stream map (in_flight 256) throughput vs today's list map | $map256_2 s vs $list_today s | $(ratio "$list_today" "$map256_2")x | >= 0.9x |"
echo "| list map, this branch vs today | $list2 s vs $list_today s | $(ratio "$list_today" "$list2")x | - |"
echo "| peak RSS, 10M items, in_flight 64 | $(metric par_stream_rss_peak_mib "$rss_out") MiB (VmHWM), $(awk -v k="$(metric maxrss_kb "$rss_out")" 'BEGIN { printf "%.1f", k / 1024 }') MiB (time) | - | <= 100 MiB |"
echo "| reproducible reduce, 10M floats, vs today's adaptive | $best_new s vs $best_old s | $(ratio "$best_new" "$best_old")x | <= 1.1x |"
for o in collect init retries; do
    echo "| parallel_map with $o vs plain | $(metric "par_options_$o" "$op") s vs $(metric par_options_plain "$op") s | $(metric "par_options_${o}_ratio" "$op")x | <= 1.05x |"
done
