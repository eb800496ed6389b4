# String building and processing: concatenation in a loop, str() of ints,
# split, join, replace, upper, find and slicing of ~1 KB strings.
def run(rounds, width):
    total_len = 0
    ones = 0
    parts_seen = 0
    probe = 0
    for r in range(rounds):
        s = ""
        for i in range(width):
            s += str(i * r + 7) + ","
        parts = s.split(",")
        parts_seen += len(parts)
        joined = "-".join(parts)
        replaced = joined.replace("1", "one")
        upper = replaced.upper()
        total_len += len(upper)
        ones += len(upper.split("ONE")) - 1
        if "9-" in upper:
            at = upper.find("9-")
            probe += at + len(upper[at:at + 40])
    return total_len, ones, parts_seen, probe


total_len, ones, parts_seen, probe = run(5000, 200)
print("length", total_len, "ones", ones, "parts", parts_seen, "probe", probe)
