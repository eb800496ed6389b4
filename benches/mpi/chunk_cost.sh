#!/usr/bin/env bash
# Per-chunk cost under --mpi, two ways, each a least-squares line through
# many runs (so one noisy run does not decide):
#   wall: the mean time of one parallel_map call over N items that do no
#         work, against the number of chunks of the call (chunk_size fixes
#         the length; the items, the results and their bytes stay the same);
#         the slope is what one more chunk adds to a call's wall time;
#   CPU:  user + sys CPU seconds of the whole job (mpirun and every rank:
#         dealing, encoding, decoding, the local calls, polling), against
#         the number of chunks of the job; the slope is the CPU one chunk
#         costs all ranks together.
# Chunk lengths are interleaved within each repetition.
#   benches/mpi/chunk_cost.sh [--reps R] [--rounds CALLS] [WEFT]
#   (default WEFT: ${CARGO_TARGET_DIR:-target/mpi}/release/weft; 2 ranks,
#   1 worker each)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
reps=3
rounds=30
while [[ $# -gt 0 ]]; do
    case $1 in
        --reps) reps=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) break ;;
    esac
done
TARGET=${CARGO_TARGET_DIR:-target/mpi}
[[ $TARGET == /* ]] || TARGET=$ROOT/$TARGET
WEFT=${1:-$TARGET/release/weft}
cd "$ROOT"
MPIRUN=(mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2)
n=20000
chunks=(1000 400 200 100 50)
points_wall=() points_cpu=()
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 0; r < reps; r++)); do
    for c in "${chunks[@]}"; do
        out=$( { TIMEFORMAT='cpu %U %S'; time "${MPIRUN[@]}" "$WEFT" --workers 1 --mpi \
            benches/mpi/chunk_cost.weft $n "$c" "$rounds"; } 2>&1)
        k=$(awk '/chunks_per_call/ { print $2 }' <<<"$out")
        s=$(awk '/chunks_per_call/ { print $4 }' <<<"$out")
        cpu=$(awk '/^cpu/ { print $2 + $3 }' <<<"$out")
        [[ -n $k && -n $s && -n $cpu ]] || { echo "error: run failed: $out" >&2; exit 1; }
        points_wall+=("$k $s")
        # Every job makes rounds + 1 calls (one to warm up).
        points_cpu+=("$((k * (rounds + 1))) $cpu")
        printf '  chunk %5d: %4d chunks per call, %.3f ms per call, job CPU %.2f s\n' \
            "$c" "$k" "$(echo "$s * 1000" | bc -l)" "$cpu"
    done
done
fit() {
    # Least squares y = a + b x; prints b, a and the standard error of b.
    awk '{ n++; x[n] = $1; y[n] = $2; sx += $1; sy += $2; sxx += $1 * $1; sxy += $1 * $2 }
         END {
             b = (n * sxy - sx * sy) / (n * sxx - sx * sx); a = (sy - b * sx) / n
             for (i = 1; i <= n; i++) { r = y[i] - a - b * x[i]; ss += r * r }
             mx = sx / n; for (i = 1; i <= n; i++) sdx += (x[i] - mx) ^ 2
             print b, a, sqrt(ss / (n - 2) / sdx)
         }'
}
read -r bw aw ew < <(printf '%s\n' "${points_wall[@]}" | fit)
read -r bc ac ec < <(printf '%s\n' "${points_cpu[@]}" | fit)
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v b="$bw" -v a="$aw" -v e="$ew" -v n="${#points_wall[@]}" 'BEGIN {
    printf "wall per chunk: %.1f +- %.1f us (slope and its standard error over %d runs; a call of 0 chunks: %.3f ms)\n", b * 1e6, e * 1e6, n, a * 1e3 }'
awk -v b="$bc" -v a="$ac" -v e="$ec" -v n="${#points_cpu[@]}" 'BEGIN {
    printf "CPU per chunk, all ranks: %.1f +- %.1f us (over %d runs; job CPU beyond chunks: %.2f s)\n", b * 1e6, e * 1e6, n, a }'
