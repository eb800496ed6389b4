#!/usr/bin/env bash
# Two weft binaries side by side in one run (a no-regression check): for
# each single-threaded program, hyperfine times OLD, NEW and CPython
# together and the table gives CPU-time ratios (user + system), which are
# steadier than wall time on a busy machine.
#
# usage: benches/compare/before_after.sh OLD_WEFT NEW_WEFT [--runs N] [PROGRAM...]
#   default programs: the original eight (fib loop nbody fannkuch
#   binary_trees strings list_churn map_churn)
# Environment: PYTHON (see lib.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
[[ $# -ge 2 ]] || die "usage: $0 OLD_WEFT NEW_WEFT [--runs N] [PROGRAM...]"
old=$1 new=$2
shift 2
[[ -x $old ]] || die "not an executable: $old"
[[ -x $new ]] || die "not an executable: $new"
runs=3
programs=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --runs)
            [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || die "--runs needs a positive integer"
            runs=$2
            shift 2
            ;;
        -*) die "unknown option $1" ;;
        *) programs+=("$1"); shift ;;
    esac
done
[[ ${#programs[@]} -gt 0 ]] || programs=(fib loop nbody fannkuch binary_trees strings list_churn map_churn)
command -v hyperfine >/dev/null 2>&1 || die "hyperfine is needed (apt-get install hyperfine)"
require_python
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "| program | old CPU s | new CPU s | new/old | old/cpython | new/cpython |"
echo "|---|---:|---:|---:|---:|---:|"
for p in "${programs[@]}"; do
    [[ -f $here/$p.weft && -f $here/$p.py ]] || die "no $p.weft / $p.py in $here"
    (cd "$here" && hyperfine -N --warmup 1 --runs "$runs" --style none \
        --export-json "$tmp/$p.json" \
        "$old $p.weft" "$new $p.weft" "$PYTHON $p.py" >/dev/null)
    "$PYTHON" - "$tmp/$p.json" "$p" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
cpu = [x["user"] + x["system"] for x in r]
o, n, py = cpu
print(f"| {sys.argv[2]} | {o:.3f} | {n:.3f} | {n / o:.2f} | {o / py:.2f} | {n / py:.2f} |")
PY
done
