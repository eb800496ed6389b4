-- A 10M-iteration while loop with an integer accumulator: the raw
-- dispatch cost of local-variable reads/writes, comparisons and arithmetic.
local function run(n)
  local i = 0
  local acc = 0
  while i < n do
    acc = acc + i % 7 * 3 + i // 11
    i = i + 1
  end
  return acc
end

print(run(10000000))
