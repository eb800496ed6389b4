# re.findall over a whole log file read into one string.
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
ms = re.findall(r"latency_ms=(\d+) user=u42\b", text)
print(len(ms))
