# shellcheck shell=bash
# Shared helpers for run.sh and run_parallel.sh (sourced, not run).
#
# Environment overrides:
#   WEFT_BIN   the weft binary to run; when set, nothing is built
#              (e.g. WEFT_BIN=benches/compare/fake_weft.sh to exercise the
#              runners without a working interpreter)
#   PYTHON     the CPython to compare against (default: the real binary
#              behind python3, `sys.executable`: a pyenv shim on PATH adds
#              ~50 ms to every start and would flatter Weft)
#   LUA        the Lua 5.4 to compare against (default: lua5.4)

COMPARE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$COMPARE_DIR/../.." && pwd)
PYTHON=${PYTHON:-python3}
# Resolve a shim (pyenv, asdf...) to the interpreter it would exec, so that
# timings do not include the shim's own start-up.
if real_python=$("$PYTHON" -c 'import sys; print(sys.executable)' 2>/dev/null) &&
    [[ -n $real_python && -x $real_python ]]; then
    PYTHON=$real_python
fi
unset real_python
LUA=${LUA:-lua5.4}

die() {
    echo "error: $*" >&2
    exit 1
}

note() {
    echo "== $*" >&2
}

# resolve_weft BUILD: sets WEFT to the binary to run. Builds the release
# binary from the repository root first when BUILD is 1 and WEFT_BIN is unset.
resolve_weft() {
    local build=$1
    # Not passed on to weft, which warns about unknown WEFT_* variables.
    export -n WEFT_BIN
    if [[ -n ${WEFT_BIN:-} ]]; then
        WEFT=$WEFT_BIN
        [[ $WEFT == */* ]] || WEFT=$(command -v "$WEFT" || true)
        [[ -n $WEFT && -x $WEFT ]] || die "WEFT_BIN=${WEFT_BIN} is not an executable"
        note "using WEFT_BIN=$WEFT (no build)"
        return
    fi
    local target=${CARGO_TARGET_DIR:-target}
    [[ $target == /* ]] || target=$REPO_ROOT/$target
    WEFT=$target/release/weft
    if [[ $build == 1 ]]; then
        note "cargo build --release (in $REPO_ROOT)"
        (cd "$REPO_ROOT" && cargo build --release --bin weft) >&2 ||
            die "cargo build --release failed"
    fi
    [[ -x $WEFT ]] || die "no weft binary at $WEFT (build it, or set WEFT_BIN)"
}

require_python() {
    command -v "$PYTHON" >/dev/null 2>&1 || die "no CPython ($PYTHON); set PYTHON"
}

have_lua() {
    command -v "$LUA" >/dev/null 2>&1
}

# run_checked LABEL CMD...: runs CMD, prints its stdout; on a non-zero exit
# shows its stderr and stops the whole runner.
run_checked() {
    local label=$1
    shift
    local err rc=0 out
    err=$(mktemp)
    out=$("$@" 2>"$err") || rc=$?
    if [[ $rc != 0 ]]; then
        echo "error: $label failed (exit $rc): $*" >&2
        sed 's/^/    /' "$err" >&2
        rm -f "$err"
        exit 1
    fi
    rm -f "$err"
    printf '%s\n' "$out"
}
