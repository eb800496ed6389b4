-- K-nucleotide (benchmarks game): counts the k-mers of a DNA sequence of
-- 250,000 characters in a table, for k = 1 and 2 (printed sorted by
-- frequency) and five given ones up to 18 long. The sequence is generated
-- with fasta's generator (its third section) so the program needs no input.
local HOMO_SAPIENS = {
  {"A", 0.3029549426680}, {"C", 0.1979883004921},
  {"G", 0.1975473066391}, {"T", 0.3015094502008},
}

local function generate(n, seed)
  local chars, probs = {}, {}
  local acc = 0.0
  for k, entry in ipairs(HOMO_SAPIENS) do
    acc = acc + entry[2]
    chars[k] = entry[1]
    probs[k] = acc
  end
  probs[#probs] = 1.0
  local out = {}
  for k = 1, n do
    seed = (seed * 3877 + 29573) % 139968
    local r = 1.0 * seed / 139968
    local c = 1
    while probs[c] <= r do
      c = c + 1
    end
    out[k] = chars[c]
  end
  return table.concat(out)
end

local function frequencies(seq, k)
  local counts = {}
  for i = 1, #seq - k + 1 do
    local key = string.sub(seq, i, i + k - 1)
    counts[key] = (counts[key] or 0) + 1
  end
  return counts
end

local function sorted_frequencies(seq, k)
  local counts = frequencies(seq, k)
  local total = #seq - k + 1
  local items = {}
  for key, count in pairs(counts) do
    items[#items + 1] = {key, count}
  end
  table.sort(items, function(a, b)
    if a[2] ~= b[2] then return a[2] > b[2] end
    return a[1] < b[1]
  end)
  for _, kv in ipairs(items) do
    print(string.format("%s %.3f", kv[1], 100.0 * kv[2] / total))
  end
  print("")
end

local function main(n)
  local seq = generate(n, 42)
  sorted_frequencies(seq, 1)
  sorted_frequencies(seq, 2)
  for _, probe in ipairs({"GGT", "GGTA", "GGTATT", "GGTATTTTAATT", "GGTATTTTAATTTATAGT"}) do
    local counts = frequencies(seq, #probe)
    print(string.format("%d\t%s", counts[probe] or 0, probe))
  end
end

main(250000)
