# Mandelbrot (benchmarks game), a 400 x 400 bitmap, 50 iterations per
# pixel: tight float loops. The benchmarks game writes the bitmap as PBM;
# here each row is packed into bytes (8 pixels each, the leftmost in the
# high bit) and a checksum of the bytes is printed instead.


def mandelbrot(n):
    checksum = 0
    inside = 0
    for y in range(n):
        ci = 2.0 * y / n - 1.0
        byte = 0
        bits = 0
        for x in range(n):
            cr = 2.0 * x / n - 1.5
            zr = 0.0
            zi = 0.0
            tr = 0.0
            ti = 0.0
            i = 0
            while i < 50 and tr + ti <= 4.0:
                zi = 2.0 * zr * zi + ci
                zr = tr - ti + cr
                tr = zr * zr
                ti = zi * zi
                i += 1
            byte = byte * 2
            if tr + ti <= 4.0:
                byte += 1
                inside += 1
            bits += 1
            if bits == 8:
                checksum = (checksum * 31 + byte) % 1000000007
                byte = 0
                bits = 0
        if bits > 0:
            byte = byte * 2 ** (8 - bits)
            checksum = (checksum * 31 + byte) % 1000000007
    print("P4", n, n)
    print("inside", inside, "checksum", checksum)


mandelbrot(400)
