#!/usr/bin/python3
"""pyfloat_oracle.py: Python's repr(float) for the doubles test_json.c checks mill_buf_add_pyfloat
against. Run by the test through /usr/bin/python3; prints one line per double:

    <class> <16 hex digits: the IEEE-754 bit pattern> <repr(x)>

Classes: F a fixed list (given as float.hex strings); R raw random bit patterns; M random
mantissas with exponents around the positional/scientific switch; D random decimals m/10^k and
m*10^k; P every power of two. R, M and D come from the 64-bit LCG below, which test_json.c runs
identically; it checks the bit patterns as well as the strings. Standard library only.
"""
import struct

FIXED = [
    "0x0.0p+0", "-0x0.0p+0", "0x1.0p+0", "-0x1.0p+0", "0x1.9p+6", "0x1.999999999999ap-4",
    "0x1.999999999999ap-3", "0x1.3333333333333p-2", "0x1.5555555555555p-2",
    "0x1.5555555555555p-1", "0x1.4f8b588e368f1p-17", "0x1.a36e2eb1c432dp-14",
    "0x1.02e4b6ce5dc68p-13", "0x1.a36371ea531a8p-14", "0x1.edd2f1a9fbe77p+6",
    "0x1.c6bf526340000p+49", "0x1.1c37937e08000p+53", "0x1.aa535d3d0c000p+53",
    "0x1.1c37937e07fffp+53", "0x1.6345785d8a000p+56", "0x1.0p+53", "0x1.0000000000001p+53",
    "0x1.0p+63", "0x1.0p+64", "0x1.0f0cf064dd592p+73", "0x1.52d02c7e14af6p+76",
    "0x0.0000000000001p-1022", "0x1.0p-1022", "0x0.fffffffffffffp-1022",
    "0x1.fffffffffffffp+1023", "-0x1.fffffffffffffp+1023", "0x1.0p-1", "0x1.199999999999ap+0",
    "0x1.249ad2594c37dp+332", "0x1.bff2ee48e0530p-333", "0x1.56a95319d63e1p+63",
    "0x1.921fb54442d18p+1", "0x1.5bf0a8b145769p+1", "-0x1.1126666666666p+8", "inf", "-inf",
    "nan", "0x1.ad7f29abcaf48p-24", "0x1.1666666666666p+2", "0x1.3333333333334p-2",
    "0x1.2d687p+20", "0x1.c12218377de66p+46", "0x1.c7e83209e90b2p+72",
    "0x1.8e757928e0c9ep-14", "0x0.00000000007e8p-1022", "-0x1.4f8b588e368f1p-17",
]

MASK = (1 << 64) - 1
COUNT = 1500  # per random class; test_json.c uses the same number


class Lcg:
    """Knuth's MMIX LCG; next32 returns the high 32 bits of the new state."""

    def __init__(self, seed):
        self.s = seed & MASK

    def next32(self):
        self.s = (self.s * 6364136223846793005 + 1442695040888963407) & MASK
        return self.s >> 32

    def next64(self):
        hi = self.next32()
        return (hi << 32) | self.next32()


def bits_of(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def of_bits(b):
    return struct.unpack("<d", struct.pack("<Q", b))[0]


def emit(cls, x):
    print("%s %016x %s" % (cls, bits_of(x), repr(x)))


def main():
    for h in FIXED:
        emit("F", float.fromhex(h))
    g = Lcg(20240601)
    for _ in range(COUNT):
        emit("R", of_bits(g.next64()))
    for _ in range(COUNT):
        b = g.next64()
        exp = 1023 - 20 + g.next32() % 80
        b = (b & ~(0x7FF << 52)) | (exp << 52)
        emit("M", of_bits(b))
    for _ in range(COUNT):
        digits = 1 + g.next32() % 17
        m = g.next64() % (10 ** digits)
        k = g.next32() % 40
        if k < 20:
            x = float(m) / float(10 ** k)
        else:
            x = float(m) * float(10 ** (k - 20))
        emit("D", x)
    for k in range(-1074, 1024):
        b = (k + 1023) << 52 if k >= -1022 else 1 << (k + 1074)
        emit("P", of_bits(b))


if __name__ == "__main__":
    main()
