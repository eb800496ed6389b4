-- Reverse-complement (benchmarks game): the reverse complement of a DNA
-- sequence of 1,000,000 characters, printed in lines of 60. The sequence is
-- generated with fasta's generator and IUB alphabet (upper-cased) so the
-- program needs no input.
local IUB = {
  {"A", 0.27}, {"C", 0.12}, {"G", 0.12}, {"T", 0.27},
  {"B", 0.02}, {"D", 0.02}, {"H", 0.02}, {"K", 0.02},
  {"M", 0.02}, {"N", 0.02}, {"R", 0.02}, {"S", 0.02},
  {"V", 0.02}, {"W", 0.02}, {"Y", 0.02},
}
local PAIRS = "ACGTUMRWSYKVHDBN"
local COMPLEMENTS = "TGCAAKYWSRMBDHVN"
local WIDTH = 60

local function generate(n, seed)
  local chars, probs = {}, {}
  local acc = 0.0
  for k, entry in ipairs(IUB) do
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

local function main(n)
  local comp = {}
  for i = 1, #PAIRS do
    comp[string.sub(PAIRS, i, i)] = string.sub(COMPLEMENTS, i, i)
  end
  local seq = generate(n, 42)
  print(">ONE reverse complement")
  local line = {}
  for i = #seq, 1, -1 do
    line[#line + 1] = comp[string.sub(seq, i, i)]
    if #line == WIDTH then
      print(table.concat(line))
      line = {}
    end
  end
  if #line > 0 then
    print(table.concat(line))
  end
end

main(1000000)
