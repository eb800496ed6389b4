"""Ctrl-C to exit: starts weft on a script, waits for its "ready" line and
then 300 ms more (so it is deep in its wait), sends SIGINT and times until
the process has exited (status 130 checked). Prints median and max.

    python3 benches/compare/sigint/latency.py [--runs N] [--workers W] [WEFT]
"""
import os, signal, statistics, subprocess, sys, time

here = os.path.dirname(os.path.abspath(__file__))
args = sys.argv[1:]
runs, workers = 10, 2
if "--runs" in args:
    i = args.index("--runs"); runs = int(args[i + 1]); del args[i:i + 2]
if "--workers" in args:
    i = args.index("--workers"); workers = int(args[i + 1]); del args[i:i + 2]
weft = args[0] if args else os.path.join(here, "..", "..", "..", "target", "release", "weft")
env = {k: v for k, v in os.environ.items() if not k.startswith("WEFT_")}
env["WEFT_WORKERS"] = str(workers)
print(f"| script | workers | runs | median ms | max ms |")
print(f"|---|---|---|---|---|")
for name in ["in_sleep", "in_channel", "in_parallel_map", "in_parallel_map_10m"]:
    times = []
    for _ in range(runs):
        p = subprocess.Popen([weft, name + ".weft"], cwd=here, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = p.stdout.readline()
        assert line == b"ready\n", line
        time.sleep(0.3)
        t0 = time.perf_counter()
        p.send_signal(signal.SIGINT)
        p.wait(timeout=30)
        dt = (time.perf_counter() - t0) * 1000
        err = p.stderr.read().decode()
        assert p.returncode == 130, (name, p.returncode, err)
        assert "error: Interrupted" in err, err
        times.append(dt)
    print(f"| {name} | {workers} | {runs} | {statistics.median(times):.1f} | {max(times):.1f} |")
