-- List churn: push (append), pop, indexing, sort and slicing on lists of
-- ints, driven by a deterministic 31-bit LCG so every language sees the
-- same numbers. Tables are 1-based; the index arithmetic is shifted by one.
local function run(rounds, size)
  local seed = 12345
  local checksum = 0
  for r = 0, rounds - 1 do
    local xs = {}
    for _ = 1, size do
      seed = (seed * 1103515245 + 12345) % 2147483648
      xs[#xs + 1] = seed % 100000
    end
    -- indexed reads and writes
    for i = 0, size - 1, 7 do
      xs[i + 1] = xs[i + 1] + xs[size - i] % 10
    end
    table.sort(xs)
    checksum = checksum + xs[1] + xs[#xs // 2 + 1] + xs[#xs]
    local middle = table.move(xs, size // 4 + 1, size // 2, 1, {})
    local s = 0
    for _, v in ipairs(middle) do
      s = s + v
    end
    checksum = checksum + s % 1000003 + #middle
    -- pop the top half back off
    while #xs > size // 2 do
      checksum = checksum + table.remove(xs) % 1000
    end
    -- refill from the front half, reversed order of reads
    for i = #xs - 1, 0, -3 do
      xs[#xs + 1] = xs[i + 1] + r
    end
    checksum = (checksum + xs[#xs] * 3 + #xs) % 1000000007
  end
  return checksum
end

print(run(800, 2000))
