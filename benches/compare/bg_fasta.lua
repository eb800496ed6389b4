-- Fasta (benchmarks game), n = 250,000: writes three DNA sequences in lines
-- of 60 characters, one repeated from a fixed string and two drawn from
-- weighted alphabets with the benchmarks game's linear congruential
-- generator. The random state is passed along rather than kept in a global.
local ALU = "GGCCGGGCGCGGTGGCTCACGCCTGTAATCCCAGCACTTTGG" ..
  "GAGGCCGAGGCGGGCGGATCACCTGAGGTCAGGAGTTCGAGA" ..
  "CCAGCCTGGCCAACATGGTGAAACCCCGTCTCTACTAAAAAT" ..
  "ACAAAAATTAGCCGGGCGTGGTGGCGCGCGCCTGTAATCCCA" ..
  "GCTACTCGGGAGGCTGAGGCAGGAGAATCGCTTGAACCCGGG" ..
  "AGGCGGAGGTTGCAGTGAGCCGAGATCGCGCCACTGCACTCC" ..
  "AGCCTGGGCGACAGAGCGAGACTCCGTCTCAAAAA"
local IUB = {
  {"a", 0.27}, {"c", 0.12}, {"g", 0.12}, {"t", 0.27},
  {"B", 0.02}, {"D", 0.02}, {"H", 0.02}, {"K", 0.02},
  {"M", 0.02}, {"N", 0.02}, {"R", 0.02}, {"S", 0.02},
  {"V", 0.02}, {"W", 0.02}, {"Y", 0.02},
}
local HOMO_SAPIENS = {
  {"a", 0.3029549426680}, {"c", 0.1979883004921},
  {"g", 0.1975473066391}, {"t", 0.3015094502008},
}
local WIDTH = 60

local function repeat_fasta(header, src, n)
  print(header)
  local r = #src
  local s = src .. src .. string.sub(src, 1, n % r)
  for j = 0, n // WIDTH - 1 do
    local i = j * WIDTH % r
    print(string.sub(s, i + 1, i + WIDTH))
  end
  if n % WIDTH ~= 0 then
    print(string.sub(s, #s - n % WIDTH + 1))
  end
end

local function random_fasta(header, tbl, n, seed)
  print(header)
  local chars, probs = {}, {}
  local acc = 0.0
  for k, entry in ipairs(tbl) do
    acc = acc + entry[2]
    chars[k] = entry[1]
    probs[k] = acc
  end
  probs[#probs] = 1.0
  local left = n
  while left > 0 do
    local width = left > WIDTH and WIDTH or left
    local line = {}
    for k = 1, width do
      seed = (seed * 3877 + 29573) % 139968
      local r = 1.0 * seed / 139968
      local c = 1
      while probs[c] <= r do
        c = c + 1
      end
      line[k] = chars[c]
    end
    print(table.concat(line))
    left = left - width
  end
  return seed
end

local function main(n)
  repeat_fasta(">ONE Homo sapiens alu", ALU, n * 2)
  local seed = random_fasta(">TWO IUB ambiguity codes", IUB, n * 3, 42)
  random_fasta(">THREE Homo sapiens frequency", HOMO_SAPIENS, n * 5, seed)
end

main(250000)
