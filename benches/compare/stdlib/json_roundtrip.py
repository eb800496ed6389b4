# json.loads of a big file of records, then json.dumps back (compact).
import json, sys
text = open(sys.argv[1], encoding="utf-8").read()
v = json.loads(text)
out = json.dumps(v, separators=(",", ":"), ensure_ascii=False)
print(len(v), len(out))
