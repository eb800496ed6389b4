#!/bin/bash
# Ctrl-C to exit for examples/scope_fetch.weft (ASYNC.md target: 100 ms):
# with an argument, one mirror takes an hour, so round 1's scope waits in
# its join; once the script says it is fetching, wait 0.5 s, send SIGINT,
# and time until the process has exited (status 130 expected).
#
#   cargo build --release && benches/compare/sigint_scope.sh [RUNS]
cd "$(dirname "$0")/../.." || exit 1
WEFT=${WEFT:-target/release/weft}
for i in $(seq 1 "${1:-5}"); do
  out=$(mktemp)
  "$WEFT" examples/scope_fetch.weft 3600 > "$out" 2>&1 &
  pid=$!
  until grep -q "round 1: fetching" "$out"; do sleep 0.02; done
  sleep 0.5
  t0=$(date +%s%N)
  kill -INT $pid
  wait $pid; rc=$?
  t1=$(date +%s%N)
  echo "run $i: exit $rc after $(( (t1 - t0) / 1000000 )) ms"
  rm -f "$out"
done
