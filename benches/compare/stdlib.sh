#!/usr/bin/env bash
# The stdlib modules side by side with CPython 3 on the same big files
# (made by benches/gen_stdlib_data.py, never committed). Prints a Markdown
# table of median wall times (hyperfine) and ratios, then the parallel
# speed-ups and fs.lines' peak RSS.
#
# usage: benches/compare/stdlib.sh [--runs N] [--no-build] [--data DIR]
#   --data DIR   where the big files are (default /tmp/weft-stdlib-bench;
#                generated there if missing: ~2.3 GB)
# Environment: PYTHON (default: the real CPython binary behind python3, not
# a pyenv shim), WEFT_BIN.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
runs=5
build=1
data=/tmp/weft-stdlib-bench
while [[ $# -gt 0 ]]; do
    case $1 in
        --runs) runs=$2; shift ;;
        --no-build) build=0 ;;
        --data) data=$2; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
PYTHON=${PYTHON:-$(python3 -c 'import sys; print(sys.executable)')}
if [[ -z ${WEFT_BIN:-} ]]; then
    if [[ $build == 1 ]]; then (cd "$root" && cargo build --release --quiet); fi
    WEFT_BIN=$root/target/release/weft
fi
# Not passed on to weft, which warns about unknown WEFT_* variables.
export -n WEFT_BIN
"$PYTHON" "$root/benches/gen_stdlib_data.py" "$data"
s=$here/stdlib
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| benchmark | weft s | cpython s | weft/cpython (wall, median) | weft/cpython (CPU: user+sys, mean) |"
echo "|---|---|---|---|---|"
pair() { # name weft-script py-script input [workers]
    local name=$1 w=$2 p=$3 input=$4 workers=${5:-2}
    local a b
    a=$(WEFT_WORKERS=$workers "$WEFT_BIN" "$s/$w" "$input")
    b=$("$PYTHON" "$s/$p" "$input")
    [[ $a == "$b" ]] || { echo "outputs differ for $name: weft '$a' python '$b'" >&2; exit 1; }
    hyperfine --style none --warmup 1 --runs "$runs" --export-json "$out/$name.json" \
        -n weft "WEFT_WORKERS=$workers $WEFT_BIN $s/$w $input" \
        -n cpython "$PYTHON $s/$p $input" >/dev/null
    "$PYTHON" - "$out/$name.json" "$name" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))["results"]
r = {x["command"]: x["median"] for x in res}
cpu = {x["command"]: x["user"] + x["system"] for x in res}
print(f"| {sys.argv[2]} | {r['weft']:.3f} | {r['cpython']:.3f} | {r['weft'] / r['cpython']:.2f} | {cpu['weft'] / cpu['cpython']:.2f} |")
PY
}
pair "json.parse + stringify, 50 MB" json_roundtrip.weft json_roundtrip.py "$data/records.json"
pair "csv.rows count, 1M rows" csv_count.weft csv_count.py "$data/rows.csv"
pair "re.find_all, 100 MB log" re_findall.weft re_findall.py "$data/app.log"
pair "200 os.run(true), 2 workers" os_run.weft os_run.py "$data/app.log"

echo
best() { # script input mode workers: the best of $runs "mode: X s" timings
    local script=$1 input=$2 mode=$3 workers=$4 t best=
    for _ in $(seq "$runs"); do
        t=$(WEFT_WORKERS=$workers "$WEFT_BIN" "$s/$script" "$input" "$mode" | sed -E 's/.*: ([0-9.]+) s/\1/')
        if [[ -z $best ]] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
    done
    echo "$best"
}
seq_t=$(best re_lines.weft "$data/app.log" seq 2)
par_t=$(best re_lines.weft "$data/app.log" par 2)
echo "re.find_all per line, 100 MB log: sequential $seq_t s, parallel_map on 2 workers $par_t s, speed-up $(awk "BEGIN{printf \"%.2f\", $seq_t / $par_t}")x"
seq_t=$(best csv_par.weft "$data/rows.csv" seq 2)
def_t=$(best csv_par.weft "$data/rows.csv" map 2)
par_t=$(best csv_par.weft "$data/rows.csv" map4096 2)
fold_t=$(best csv_par.weft "$data/rows.csv" fold 2)
echo "csv.rows 1M rows: sequential $seq_t s, parallel_map on 2 workers (default in_flight) $def_t s, speed-up $(awk "BEGIN{printf \"%.2f\", $seq_t / $def_t}")x; (in_flight 4096) $par_t s, $(awk "BEGIN{printf \"%.2f\", $seq_t / $par_t}")x; parallel_fold $fold_t s, $(awk "BEGIN{printf \"%.2f\", $seq_t / $fold_t}")x"

rss=$( { /usr/bin/time -f "%M" "$WEFT_BIN" "$s/fs_lines.weft" "$data/big.txt" >/dev/null; } 2>&1 | tail -1)
echo "fs.lines over $(du -h "$data/big.txt" | cut -f1) file: peak RSS $((rss / 1024)) MiB"
