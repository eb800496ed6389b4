#!/usr/bin/env bash
# A stand-in for `weft FILE.weft [ARGS...]` that runs the CPython twin
# FILE.py instead. It only exists to exercise run.sh / run_parallel.sh
# before the interpreter runs:
#   WEFT_BIN=benches/compare/fake_weft.sh benches/compare/run.sh --quick
set -euo pipefail
[[ $# -ge 1 && $1 == *.weft ]] || { echo "usage: fake_weft.sh FILE.weft [ARGS...]" >&2; exit 2; }
script=${1%.weft}.py
shift
[[ -f $script ]] || { echo "fake_weft.sh: no CPython twin $script" >&2; exit 1; }
exec "${PYTHON:-python3}" "$script" "$@"
