#!/usr/bin/env python3
"""Writes the big input files of benches/compare/stdlib.sh (never committed).

usage: benches/gen_stdlib_data.py DIR [--lines-gb N]

DIR/records.json   ~50 MB: a JSON list of flat records (ints, floats, strings, bools, null)
DIR/rows.csv       1,000,000 rows of 6 columns (with a header line)
DIR/app.log        ~100 MB of log lines
DIR/big.txt        N GB (default 2) of text lines, for fs.lines' peak RSS
Files that exist with the right size are kept.
"""
import json, os, random, sys

def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    gb = 2.0
    if "--lines-gb" in sys.argv:
        gb = float(sys.argv[sys.argv.index("--lines-gb") + 1])
    os.makedirs(out, exist_ok=True)
    rnd = random.Random(42)
    words = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta", "iota", "kappa"]

    p = os.path.join(out, "records.json")
    if not os.path.exists(p) or os.path.getsize(p) < 45_000_000:
        recs = []
        size = 0
        i = 0
        while size < 50_000_000:
            r = {"id": i, "name": rnd.choice(words) + str(rnd.randint(0, 9999)),
                 "score": round(rnd.uniform(0, 1000), 3), "active": rnd.random() < 0.5,
                 "tags": rnd.sample(words, 3), "parent": None if i % 3 else i // 3,
                 "note": "lorem ipsum dolor sit amet " * rnd.randint(0, 2)}
            recs.append(r)
            size += 150
            i += 1
        with open(p, "w") as f:
            json.dump(recs, f)

    p = os.path.join(out, "rows.csv")
    if not os.path.exists(p):
        with open(p, "w") as f:
            f.write("id,name,city,amount,flag,comment\n")
            for i in range(1_000_000):
                flag = "yes" if rnd.random() < 0.3 else "no"
                f.write(f'{i},{rnd.choice(words)},"City {i % 97}",{rnd.uniform(0, 500):.2f},{flag},"a, quoted ""comment"""\n')

    p = os.path.join(out, "app.log")
    if not os.path.exists(p) or os.path.getsize(p) < 95_000_000:
        with open(p, "w") as f:
            size = 0
            while size < 100_000_000:
                lines = []
                for _ in range(10000):
                    lvl = rnd.choice(["INFO", "INFO", "INFO", "WARN", "ERROR"])
                    line = (f"2024-05-14 09:{rnd.randint(0, 59):02d}:{rnd.randint(0, 59):02d}.{rnd.randint(0, 999):03d} "
                            f"{lvl:5} api GET /api/{rnd.choice(words)} status={rnd.choice([200, 200, 201, 404, 500])} "
                            f"latency_ms={rnd.randint(1, 999)} user=u{rnd.randint(1, 500)}\n")
                    lines.append(line)
                block = "".join(lines)
                f.write(block)
                size += len(block)

    p = os.path.join(out, "big.txt")
    want = int(gb * (1 << 30))
    if not os.path.exists(p) or os.path.getsize(p) < want:
        block = "".join(f"line {i} of a long file, with some words to make it wider than usual\n" for i in range(100000)).encode()
        with open(p, "wb") as f:
            written = 0
            while written < want:
                f.write(block)
                written += len(block)

if __name__ == "__main__":
    main()
