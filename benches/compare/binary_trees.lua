-- Binary-trees (max depth 14): allocation of many small tables and recursion.
-- A tree is a table {left, right}; a leaf is {} (both children nil). Same
-- program shape as the benchmarks-game reference (stretch tree, long-lived
-- tree, then batches of short-lived trees at increasing depths).
local function make(depth)
  if depth == 0 then
    return {nil, nil}
  end
  return {make(depth - 1), make(depth - 1)}
end

local function check(tree)
  local left = tree[1]
  if left == nil then
    return 1
  end
  return 1 + check(left) + check(tree[2])
end

local function main(max_depth)
  local min_depth = 4
  local stretch = max_depth + 1
  print(string.format("stretch tree of depth %d check: %d", stretch, check(make(stretch))))
  local long_lived = make(max_depth)
  for depth = min_depth, max_depth, 2 do
    local iterations = 1 << (max_depth - depth + min_depth)
    local total = 0
    for _ = 1, iterations do
      total = total + check(make(depth))
    end
    print(string.format("%d trees of depth %d check: %d", iterations, depth, total))
  end
  print(string.format("long lived tree of depth %d check: %d", max_depth, check(long_lived)))
end

main(14)
