#!/usr/bin/env bash
# Exercises run.sh, run_parallel.sh and ftscaling.sh without a working interpreter: a fake
# weft (fake_weft.sh, which runs each program's CPython twin) must pass, and
# fakes that print a wrong result must make the runners fail loudly.
# usage: benches/compare/selftest.sh
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

# expect NAME WANT_RC PATTERN CMD...: CMD exits WANT_RC and its output
# (stdout + stderr) matches PATTERN.
expect() {
    local name=$1 want=$2 pattern=$3 rc=0
    shift 3
    "$@" >"$tmp/out" 2>&1 || rc=$?
    if [[ $rc == "$want" ]] && grep -qE -- "$pattern" "$tmp/out"; then
        passed=$((passed + 1))
        echo "ok   $name"
    else
        failed=$((failed + 1))
        echo "FAIL $name (exit $rc, wanted $want and /$pattern/)"
        sed 's/^/     /' "$tmp/out"
    fi
}

# A weft that gets fib wrong, and one whose checksum depends on the workers.
cat >"$tmp/wrong_weft" <<'FAKE'
#!/usr/bin/env bash
"${PYTHON:-python3}" "${1%.weft}.py" | sed 's/0/9/g'
FAKE
cat >"$tmp/racy_weft" <<'FAKE'
#!/usr/bin/env bash
"${PYTHON:-python3}" "${1%.weft}.py" | sed "s/^checksum: /checksum: ${WEFT_WORKERS:-0}/"
FAKE
# A weft that runs ftscaling.weft's pattern (its fourth argument) in 0.5 s
# with 1 worker and 0.25 s with more, burning no CPU.
cat >"$tmp/ft_weft" <<'FAKE'
#!/usr/bin/env bash
if [[ ${WEFT_WORKERS:-1} == 1 ]]; then echo "$4 0.5000"; else echo "$4 0.2500"; fi
FAKE
chmod +x "$tmp/wrong_weft" "$tmp/racy_weft" "$tmp/ft_weft"

expect "run.sh passes with a correct weft" 0 '^\| fib \| [0-9.]+ \| [0-9.]+ \|' \
    env WEFT_BIN="$here/fake_weft.sh" "$here/run.sh" --quick fib
expect "run.sh fallback timer (no hyperfine, no lua)" 0 '^\| fib \| [0-9.]+ \| [0-9.]+ \| - \|' \
    env NO_HYPERFINE=1 LUA=no-such-lua WEFT_BIN="$here/fake_weft.sh" "$here/run.sh" --runs 1 fib
expect "run.sh fails on an output mismatch" 1 'OUTPUT MISMATCH in fib' \
    env WEFT_BIN="$tmp/wrong_weft" "$here/run.sh" --quick fib
expect "run.sh fails when weft fails" 1 'fib \(weft\) failed' \
    env WEFT_BIN=/bin/false "$here/run.sh" --quick fib
expect "run.sh rejects an unknown program" 1 "unknown program 'nope'" \
    env WEFT_BIN="$here/fake_weft.sh" "$here/run.sh" nope
expect "run_parallel.sh passes with a correct weft" 0 '^\| par_spawn_roundtrip \| [0-9.]+ \| [0-9.]+ \| - \| [0-9.]+ \|' \
    env WEFT_BIN="$here/fake_weft.sh" "$here/run_parallel.sh" par_spawn
expect "run_parallel.sh fails on a checksum mismatch" 1 'CHECKSUM MISMATCH in par_map_cheap' \
    env WEFT_BIN="$tmp/racy_weft" "$here/run_parallel.sh" par_map_cheap
expect "ftscaling.sh prints the table with the two-process control" 0 \
    '^\| calls \| 0\.5000 \| 0\.2500 \| 2\.00x \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \|' \
    env WEFT_BIN="$tmp/ft_weft" "$here/ftscaling.sh" --runs 2
expect "ftscaling.sh fails when weft fails" 1 'ftscaling calls \(workers=1\) failed' \
    env WEFT_BIN=/bin/false "$here/ftscaling.sh" --runs 1
expect "ftscaling.sh rejects a bad --runs" 1 '--runs needs a positive integer' \
    env WEFT_BIN="$tmp/ft_weft" "$here/ftscaling.sh" --runs 0

echo "selftest: $passed passed, $failed failed"
[[ $failed == 0 ]]
