#!/bin/bash
# Instruction counts of the compare programs at reduced sizes (branch
# speed6, BENCHMARKS.md "Session 8, branch speed6"): each program's size
# constant lowered with sed so that a callgrind run takes seconds on a
# loaded machine. usage: speed6-cg-small.sh WEFT_BINARY...
set -euo pipefail
cd "$(dirname "$0")/../compare"
S=$(mktemp -d)
sed 's/run(10_000_000)/run(1_000_000)/' loop.weft > "$S/loop.weft"
sed 's/100_000)/10_000)/' nbody.weft > "$S/nbody.weft"
sed 's/^let n = 9/let n = 8/' fannkuch.weft > "$S/fannkuch.weft"
sed 's/^main(14)/main(11)/' binary_trees.weft > "$S/binary_trees.weft"
sed 's/run(5000, 200)/run(500, 200)/' strings.weft > "$S/strings.weft"
sed 's/run(800, 2000)/run(80, 2000)/' list_churn.weft > "$S/list_churn.weft"
sed 's/run(50_000, 6)/run(5_000, 6)/' map_churn.weft > "$S/map_churn.weft"
sed 's/^main(250)/main(80)/' bg_spectral_norm.weft > "$S/bg_spectral_norm.weft"
sed 's/^mandelbrot(400)/mandelbrot(128)/' bg_mandelbrot.weft > "$S/bg_mandelbrot.weft"
sed 's/^main(250_000)/main(25_000)/' bg_fasta.weft > "$S/bg_fasta.weft"
sed 's/^main(250_000)/main(25_000)/' bg_knucleotide.weft > "$S/bg_knucleotide.weft"
sed 's/^main(1_000_000)/main(100_000)/' bg_revcomp.weft > "$S/bg_revcomp.weft"
sed 's/^main(15)/main(12)/' bg_binary_trees.weft > "$S/bg_binary_trees.weft"
echo "| program | $* |"
for f in "$S"/*.weft; do
    row="| $(basename "$f" .weft) |"
    for bin in "$@"; do
        ir=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$f" 2>&1 >/dev/null | awk '/I +refs/ { print $NF }')
        row="$row $ir |"
    done
    echo "$row"
done
rm -rf "$S"
