-- String building and processing: concatenation in a loop, tostring of ints,
-- split, join, replace, upper, find and slicing of ~1 KB strings.
-- Lua has no split: it is written with plain (non-pattern) string.find.
local function split(s, sep)
  local out = {}
  local start = 1
  local n = 0
  while true do
    local a, b = string.find(s, sep, start, true)
    n = n + 1
    if a == nil then
      out[n] = string.sub(s, start)
      return out
    end
    out[n] = string.sub(s, start, a - 1)
    start = b + 1
  end
end

local function run(rounds, width)
  local total_len, ones, parts_seen, probe = 0, 0, 0, 0
  for r = 0, rounds - 1 do
    local s = ""
    for i = 0, width - 1 do
      s = s .. tostring(i * r + 7) .. ","
    end
    local parts = split(s, ",")
    parts_seen = parts_seen + #parts
    local joined = table.concat(parts, "-")
    local replaced = (string.gsub(joined, "1", "one"))
    local upper = string.upper(replaced)
    total_len = total_len + #upper
    ones = ones + #split(upper, "ONE") - 1
    local at = string.find(upper, "9-", 1, true)
    if at ~= nil then
      -- 0-based position, as the other versions count it
      probe = probe + (at - 1) + #string.sub(upper, at, at + 39)
    end
  end
  return total_len, ones, parts_seen, probe
end

local total_len, ones, parts_seen, probe = run(5000, 200)
print(string.format("length %d ones %d parts %d probe %d", total_len, ones, parts_seen, probe))
