# csv.reader over a big file, counting the rows whose column 4 is "yes".
import csv, sys
n = 0
with open(sys.argv[1], newline="", encoding="utf-8") as f:
    for row in csv.reader(f):
        if row[4] == "yes":
            n += 1
print(n)
