-- Mandelbrot (benchmarks game), a 400 x 400 bitmap, 50 iterations per
-- pixel: tight float loops. The benchmarks game writes the bitmap as PBM;
-- here each row is packed into bytes (8 pixels each, the leftmost in the
-- high bit) and a checksum of the bytes is printed instead.
local function mandelbrot(n)
  local checksum, inside = 0, 0
  for y = 0, n - 1 do
    local ci = 2.0 * y / n - 1.0
    local byte, bits = 0, 0
    for x = 0, n - 1 do
      local cr = 2.0 * x / n - 1.5
      local zr, zi, tr, ti = 0.0, 0.0, 0.0, 0.0
      local i = 0
      while i < 50 and tr + ti <= 4.0 do
        zi = 2.0 * zr * zi + ci
        zr = tr - ti + cr
        tr = zr * zr
        ti = zi * zi
        i = i + 1
      end
      byte = byte * 2
      if tr + ti <= 4.0 then
        byte = byte + 1
        inside = inside + 1
      end
      bits = bits + 1
      if bits == 8 then
        checksum = (checksum * 31 + byte) % 1000000007
        byte, bits = 0, 0
      end
    end
    if bits > 0 then
      byte = byte << (8 - bits)
      checksum = (checksum * 31 + byte) % 1000000007
    end
  end
  print("P4 " .. n .. " " .. n)
  print("inside " .. inside .. " checksum " .. checksum)
end

mandelbrot(400)
