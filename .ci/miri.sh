#!/usr/bin/env bash
# Runs unit tests under Miri (Tree Borrows) and prints a table: test,
# result, how it ran, seconds.
#
#   .ci/miri.sh                        # pool::, channel::, value::, alloc::
#   .ci/miri.sh channel::reason::      # only tests whose path starts so
#   MODE=alone LIMIT=600 JOBS=2 .ci/miri.sh pool::park::
#
# MODE=module (default): one Miri process per test module, its tests one
# at a time (libtest --test-threads=1), with libtest's time for each test
# (column "module"). Every test that does not end `ok` in a module run
# that ended cleanly is then rerun alone. A Miri process costs ~12 CPU
# seconds before the first test starts (loading the crate), so this is
# several times cheaper than MODE=alone on a shared 2-core machine.
# MODE=alone: every test in a Miri process of its own (column "alone",
# CPU seconds), so that a leak, a UB report or a hang is pinned on one test.
#
# Everything runs under `nice -n 19`; limits are on CPU time (ulimit -t:
# LIMIT seconds a test, default 300; a module gets LIMIT times its number
# of tests) so that a loaded machine slows the run without failing tests,
# with a wall-clock backstop (WALL, default 3600 s a process). JOBS Miri
# processes run at once (default 1). Results go to target/miri/report.tsv,
# each run's output to target/miri/logs/. Needs the nightly toolchain with
# the miri component (`rustup +nightly component add miri rust-src`).
#
# MIRIFLAGS (override by setting it):
# - -Zmiri-tree-borrows: the aliasing model the project is checked against.
# - -Zmiri-isolation-error=hide: the pool reads the machine's topology from
#   /sys and /proc when it starts (src/pool/config/detect.rs, topology.rs);
#   isolated Miri refuses `open`. With this the refusal is an ordinary I/O
#   error, which the pool handles (it falls back to one node, no cache line
#   size), and the clock stays Miri's virtual one: the tests' "hung after
#   20 s" deadlines and sleeps then count interpreted steps, not the time a
#   loaded machine takes, so the run is repeatable. (-Zmiri-disable-isolation
#   also works, but makes those deadlines real time.)
# Leaks are checked, not ignored: a test whose only errors are leaks of
# crossbeam-epoch's own allocations (the per-thread `Local`s, the garbage
# queue's nodes and sealed bags, allocated in crossbeam_epoch as the first
# frame of the allocation's backtrace) counts as `ok*`. Those stay reachable
# from crossbeam-epoch's global collector (a static), but through links it
# stores as integers (tagged pointers, `as usize` in its atomic.rs), which
# Miri's leak check cannot follow; they are not the project's leaks (the
# pool joins every thread it starts). Any other leaked allocation fails the
# test.
#
# Result column: ok, ok* (passed; only crossbeam-epoch leaks, see above),
# ignored (cfg_attr(miri, ignore): the reason is beside the test),
# FAIL(status) (see the log), timeout (did not finish in LIMIT s).
set -uo pipefail
cd "$(dirname "$0")/.."

LIMIT="${LIMIT:-300}"
WALL="${WALL:-3600}"
JOBS="${JOBS:-1}"
MODE="${MODE:-module}"
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-tree-borrows -Zmiri-isolation-error=hide}"
export CARGO_TERM_COLOR=never
prefixes=("$@")
if [ ${#prefixes[@]} -eq 0 ]; then
    # Pool and channel protocols first, the config parser's tests last.
    prefixes=(pool::park:: pool::quiescent:: pool::test:: pool::timer:: channel::
        value:: alloc:: pool::)
fi

out=target/miri
mkdir -p "$out/logs"
echo "== building the tests for Miri (MIRIFLAGS=$MIRIFLAGS)" >&2
nice -n 19 cargo +nightly miri test --lib --no-run -q >&2 || exit 1

# The tests as Miri sees them (cfg(miri) may drop or shrink some).
nice -n 19 cargo +nightly miri test --lib -q -- --list --format terse 2>/dev/null \
    | sed -n 's/: test$//p' >"$out/all.txt"
: >"$out/selected.txt"
for p in "${prefixes[@]}"; do
    while read -r t; do
        case "$t" in
        "$p"*) grep -qxF "$t" "$out/selected.txt" || echo "$t" >>"$out/selected.txt" ;;
        esac
    done <"$out/all.txt"
done
n=$(wc -l <"$out/selected.txt")
echo "== $n tests, MODE=$MODE, limit ${LIMIT} CPU s a test, $JOBS at a time (load: $(cut -d' ' -f1-3 /proc/loadavg))" >&2

# True when every error in the log is a leak whose allocation was made in
# crossbeam_epoch (frame 0 of "allocated here"), and there is at least one.
only_epoch_leaks() {
    awk '
        /^error: memory leaked/ { leaks++; want = 1; next }
        want && /^ +0: / { if ($0 !~ /crossbeam_epoch::/) other++; want = 0; next }
        /^error: / && !/^error: (aborting due to|test failed)/ { other++ }
        END { exit !(leaks > 0 && other == 0) }
    ' "$1"
}

run_one() {
    local t="$1" log rc cpu result
    log="$out/logs/$t.log"
    cpu=$( { /usr/bin/time -f '%U %S' -o /dev/stdout bash -c '
        ulimit -S -t "$1"
        exec timeout -k 10 "$2" nice -n 19 cargo +nightly miri test --lib -q -- --exact "$3" >"$4" 2>&1
    ' _ "$LIMIT" "$WALL" "$t" "$log"; echo "rc $?"; } 2>/dev/null)
    rc=$(sed -n 's/^rc //p' <<<"$cpu")
    cpu=$(awk '/^[0-9.]+ [0-9.]+$/ { printf "%d", $1 + $2 + 0.5 }' <<<"$cpu")
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] || [ "$rc" -eq 152 ] || grep -q "SIGXCPU\|SIGKILL" "$log"; then
        result=timeout
    elif [ "$rc" -ne 0 ] && grep -q '1 passed' "$log" && only_epoch_leaks "$log"; then
        result='ok*'
    elif [ "$rc" -ne 0 ]; then
        result="FAIL($rc)"
    elif grep -q '1 ignored' "$log"; then
        result=ignored
    elif grep -q '1 passed' "$log"; then
        result=ok
    else
        result="FAIL(no test ran)"
    fi
    printf '%s\t%s\talone\t%s\n' "$t" "$result" "$cpu"
}
# One Miri process for the selected tests of module $1, one at a time
# (--test-threads=1), with libtest's per-test times. A test that reports
# `ok` in a batch that ended cleanly (status 0, or only crossbeam-epoch
# leaks) is done; any other test of the module (failed, never reached, or
# in a batch that failed or leaked anything else) is rerun alone.
run_module() {
    local m="$1" log rc t line secs clean=0 leaks=''
    local -a tests
    log="$out/logs/$m.module.log"
    mapfile -t tests < <(awk -v m="$m" '{ i = match($0, /::[^:]+$/); if (substr($0, 1, i - 1) == m) print }' "$out/selected.txt")
    bash -c '
        ulimit -S -t "$1"
        exec timeout -k 10 "$2" nice -n 19 cargo +nightly miri test --lib -- \
            --exact --test-threads=1 -Zunstable-options --report-time "${@:4}" >"$3" 2>"$3.err"
    ' _ "$((LIMIT * ${#tests[@]}))" "$WALL" "$log" "${tests[@]}"
    # libtest writes to stdout, Miri's reports to stderr: kept apart so a
    # warning cannot split a "test ... ok" line.
    cat "$log.err" >>"$log" && rm -f "$log.err"
    rc=$?
    if [ $rc -eq 0 ]; then
        clean=1
    elif grep -q '^test result: ok' "$log" && only_epoch_leaks "$log"; then
        clean=1 leaks='*'
    fi
    for t in "${tests[@]}"; do
        line=$(grep -F "test $t ... " "$log" | head -1)
        secs=$(sed -n 's/.*<\([0-9.]*\)s>.*/\1/p' <<<"$line")
        if [ $clean = 1 ] && [[ "$line" == *" ... ok"* ]]; then
            printf '%s\tok%s\tmodule\t%s\n' "$t" "$leaks" "${secs:-?}"
        elif [[ "$line" == *" ... ignored"* ]]; then
            printf '%s\tignored\tmodule\t-\n' "$t"
        else
            run_one "$t"
        fi
    done
}

export -f run_one run_module only_epoch_leaks
export out LIMIT WALL

if [ "$MODE" = alone ]; then
    xargs -a "$out/selected.txt" -P "$JOBS" -I{} bash -c 'run_one "$@"' _ {}
else
    sed 's/::[^:]*$//' "$out/selected.txt" | uniq \
        | xargs -P "$JOBS" -I{} bash -c 'run_module "$@"' _ {}
fi | tee "$out/report.unsorted.tsv" >&2
sort "$out/report.unsorted.tsv" >"$out/report.tsv"

echo
printf '| %-88s | %-8s | %-6s | %7s |\n' test result mode seconds
printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..90})" "----------" "--------" "---------"
while IFS=$'\t' read -r t r m s; do
    printf '| %-88s | %-8s | %-6s | %7s |\n' "$t" "$r" "$m" "$s"
done <"$out/report.tsv"
echo
cut -f2 "$out/report.tsv" | sed 's/(.*//' | sort | uniq -c | sed 's/^/  /'
! grep -qv $'\tok\t\|\tok\*\t\|\tignored\t' "$out/report.tsv"
