#!/usr/bin/env bash
# Per-chunk cost under --mpi in CPU seconds of the whole job (both ranks,
# polling included), which a loaded machine does not inflate the way it
# inflates wall time: benches/mpi/chunk_cpu.weft with 48 chunks per call
# and with 960, interleaved, 3 runs each; the medians' difference divided
# by the extra chunks.
#   benches/mpi/chunk_cpu.sh [WEFT]   (default target/mpi/release/weft)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WEFT=${1:-$ROOT/target/mpi/release/weft}
cd "$ROOT"
MPIRUN=(mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2)
rounds=10
cpu() {
    # user + sys of mpirun and every rank (bash's `time` counts waited-for
    # descendants).
    local TIMEFORMAT='%U %S' t
    t=$( { time "${MPIRUN[@]}" "$WEFT" --workers 1 --mpi benches/mpi/chunk_cpu.weft "$1" $rounds >/dev/null; } 2>&1 | tail -1)
    awk '{ print $1 + $2 }' <<<"$t"
}
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
big=() small=()
for _ in 1 2 3; do
    big+=("$(cpu 500)")
    small+=("$(cpu 25)")
done
b=$(printf '%s\n' "${big[@]}" | median)
s=$(printf '%s\n' "${small[@]}" | median)
extra=$(( (24000 / 25 - 24000 / 500) * rounds ))
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "CPU s, 48 chunks per call x $rounds: ${big[*]} (median $b)"
echo "CPU s, 960 chunks per call x $rounds: ${small[*]} (median $s)"
printf 'CPU per extra chunk, whole job: %.1f us\n' "$(echo "($s - $b) / $extra * 1000000" | bc -l)"
