-- Map churn: insert, lookup, update, delete and iteration on one table with
-- both string keys ("k123") and int keys.
local function run(n, rounds)
  local m = {}
  local total = 0
  for r = 0, rounds - 1 do
    -- insert: string keys and int keys side by side
    for i = 0, n - 1 do
      m["k" .. tostring(i)] = i + r
      m[i * 7] = i
    end
    -- lookup: hits and misses
    for i = 0, n - 1 do
      total = total + m["k" .. tostring(i)]
      local v = m[i * 7 + 1]
      if v == nil then
        v = -1
      end
      total = total + v
      if m[i * 3] ~= nil then
        total = total + 1
      end
    end
    -- update in place
    for i = 0, n - 1, 3 do
      local k = "k" .. tostring(i)
      m[k] = m[k] + 5
      m[i * 7] = m[i * 7] * 2
    end
    -- delete half of each kind
    for i = 0, n - 1, 2 do
      m["k" .. tostring(i)] = nil
      m[i * 7] = nil
    end
    -- iterate what is left (and count it: Lua tables keep no size)
    local count = 0
    for _, value in pairs(m) do
      total = total + value
      count = count + 1
    end
    total = total % 1000000007 + count
  end
  return total
end

print(run(50000, 6))
