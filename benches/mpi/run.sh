#!/usr/bin/env bash
# The MPI measurements of BENCHMARKS.md (issue 14), side by side in one run:
#
# 1. speed-up: benches/mpi/map.weft (Mandelbrot rows, >= 1 s of work on one
#    worker) as `weft --workers 1`, `weft --workers 2` and
#    `mpirun -np 2 weft --workers 1 --mpi`, interleaved round by round
#    (so drifting load hits all three alike); the medians of the time the
#    parallel_map took (printed by the script) and of the whole run;
# 2. per-chunk cost: benches/mpi/chunk_cost.sh (wall and CPU time against
#    the number of chunks, least-squares slopes over many runs);
# 3. unpipelined call latency: benches/mpi/pingpong.weft;
# 4. idle CPU: benches/mpi/idle.weft on 3 ranks; ranks 1 and 2's CPU time
#    (utime + stime from /proc) while rank 0 sleeps.
#
# usage: benches/mpi/run.sh [--rounds N] [--no-build] [--size W H ITER] [--boost]
# Builds with `cargo build --release --features mpi` into
# ${CARGO_TARGET_DIR:-target/mpi} unless --no-build.
# --boost (root only): run in a new session whose scheduler autogroup has
# nice -20, so that on a machine busy with other sessions' builds the
# benchmark gets the CPUs as on a quiet machine (Linux gives each session
# (autogroup) a fair share whatever the nice value of its processes).
set -euo pipefail
DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$DIR/../.." && pwd)
rounds=5
build=1
boost=0
size=(400 300 1500)
all_args=("$@")
while [[ $# -gt 0 ]]; do
    case $1 in
        --rounds) rounds=$2; shift ;;
        --no-build) build=0 ;;
        --size) size=("$2" "$3" "$4"); shift 3 ;;
        --boost) boost=1 ;;
        -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) echo "unknown option $1 (try --help)" >&2; exit 1 ;;
    esac
    shift
done
command -v mpirun >/dev/null || { echo "error: mpirun is not installed" >&2; exit 1; }
if [[ $boost == 1 && -z ${MPI_BENCH_BOOSTED:-} ]]; then
    export MPI_BENCH_BOOSTED=1
    exec setsid bash -c 'echo -20 >/proc/$$/autogroup && exec "$@"' _ "$0" "${all_args[@]}"
fi
TARGET=${CARGO_TARGET_DIR:-target/mpi}
[[ $TARGET == /* ]] || TARGET=$ROOT/$TARGET
if [[ $build == 1 ]]; then
    (cd "$ROOT" && CARGO_TARGET_DIR=$TARGET cargo build --release --features mpi >&2)
fi
WEFT=$TARGET/release/weft
MPIRUN=(mpirun --allow-run-as-root --oversubscribe --bind-to none)
cd "$ROOT"

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
now() { date +%s.%N; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
[[ -n ${MPI_BENCH_BOOSTED:-} ]] && echo "(boosted: $(cat /proc/self/autogroup))"
echo
echo "## 1. speed-up: benches/mpi/map.weft ${size[*]}"
declare -A map_s wall_s
configs=(w1 w2 mpi2)
run_config() {
    local cfg=$1 t0 t1 out
    t0=$(now)
    case $cfg in
        w1) out=$("$WEFT" --workers 1 benches/mpi/map.weft "${size[@]}") ;;
        w2) out=$("$WEFT" --workers 2 benches/mpi/map.weft "${size[@]}") ;;
        mpi2) out=$("${MPIRUN[@]}" -np 2 "$WEFT" --workers 1 --mpi benches/mpi/map.weft "${size[@]}") ;;
    esac
    t1=$(now)
    local sum
    sum=$(grep checksum <<<"$out")
    if [[ -z ${checksum:-} ]]; then checksum=$sum; fi
    [[ $sum == "$checksum" ]] || { echo "error: $cfg printed '$sum', not '$checksum'" >&2; exit 1; }
    map_s[$cfg]+="$(awk '/map_seconds/ { print $2 }' <<<"$out") "
    wall_s[$cfg]+="$(echo "$t1 - $t0" | bc -l) "
}
for ((r = 0; r < rounds; r++)); do
    # Rotate the order each round.
    for ((i = 0; i < 3; i++)); do
        run_config "${configs[(i + r) % 3]}"
    done
done
echo "$checksum (all runs agree)"
echo
echo "| configuration | parallel_map s (median of $rounds) | whole run s (median) |"
echo "|---|---:|---:|"
declare -A med_map med_wall
for cfg in "${configs[@]}"; do
    med_map[$cfg]=$(tr ' ' '\n' <<<"${map_s[$cfg]}" | grep . | median)
    med_wall[$cfg]=$(tr ' ' '\n' <<<"${wall_s[$cfg]}" | grep . | median)
done
echo "| weft --workers 1 | ${med_map[w1]} | ${med_wall[w1]} |"
echo "| weft --workers 2 | ${med_map[w2]} | ${med_wall[w2]} |"
echo "| mpirun -np 2 weft --workers 1 --mpi | ${med_map[mpi2]} | ${med_wall[mpi2]} |"
echo
printf 'parallel_map: mpi2 vs 1 worker %.2fx (target >= 1.8), vs 2 workers %.2fx (target >= 0.9)\n' \
    "$(echo "${med_map[w1]} / ${med_map[mpi2]}" | bc -l)" "$(echo "${med_map[w2]} / ${med_map[mpi2]}" | bc -l)"
printf 'whole run:    mpi2 vs 1 worker %.2fx, vs 2 workers %.2fx\n' \
    "$(echo "${med_wall[w1]} / ${med_wall[mpi2]}" | bc -l)" "$(echo "${med_wall[w2]} / ${med_wall[mpi2]}" | bc -l)"
echo "per-round parallel_map seconds:"
for cfg in "${configs[@]}"; do echo "  $cfg: ${map_s[$cfg]}"; done

echo
echo "## 2. per-chunk cost: benches/mpi/chunk_cost.sh, mpirun -np 2, 1 worker per rank"
"$DIR/chunk_cost.sh" "$WEFT"

echo
echo "## 3. unpipelined call latency: benches/mpi/pingpong.weft"
"${MPIRUN[@]}" -np 2 "$WEFT" --workers 1 --mpi benches/mpi/pingpong.weft

echo
echo "## 4. idle CPU: benches/mpi/idle.weft, 3 ranks, rank 0 sleeps 8 s"
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
"${MPIRUN[@]}" -np 3 "$WEFT" --mpi benches/mpi/idle.weft 8 >/tmp/weft-mpi-idle.$$ &
job=$!
for _ in $(seq 200); do grep -q idle /tmp/weft-mpi-idle.$$ 2>/dev/null && break; sleep 0.05; done
sleep 1
pids=()
for p in $(pgrep -f "weft --mpi benches/mpi/idle.weft"); do
    r=$(tr '\0' '\n' <"/proc/$p/environ" | awk -F= '$1 == "OMPI_COMM_WORLD_RANK" { print $2 }')
    [[ $r != "" && $r != 0 ]] && pids+=("$p:$r")
done
declare -A before
for pr in "${pids[@]}"; do before[$pr]=$(cpu_ticks "${pr%%:*}"); done
window=5
sleep $window
hz=$(getconf CLK_TCK)
for pr in "${pids[@]}"; do
    after=$(cpu_ticks "${pr%%:*}")
    printf 'rank %s: %.3f s CPU per idle second (target <= 0.05)\n' "${pr##*:}" \
        "$(echo "($after - ${before[$pr]}) / $hz / $window" | bc -l)"
done
wait $job
rm -f /tmp/weft-mpi-idle.$$
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
