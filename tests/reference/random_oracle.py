"""random_oracle.py: the reference for tests/unit/test_random.c.

Runs CPython's own random.Random over a fixed, deterministic case list and prints one line per
drawn value. test_random.c builds the same case list with src/core/random.c and compares line by
line, so the two case lists must stay in step. Run it with Debian's /usr/bin/python3; it reads
no files, takes no arguments and has no side effects besides stdout.
"""
import random
import sys

FULL_INT_SEEDS = [
    0, 1, 2, 42, 1234, -1, -42, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**32 + 1, 2**48,
    2**53 + 1, 12345678901234567, 2**63 - 1, -(2**63 - 1), -(2**63),
]

FULL_STR_SEEDS = [
    "", "a", "abc", "0", "42", "café|ünïcödé|日本語", "42|cifar10_mcq|s0000042", "\x00",
    "\x00\x00abc", "x" * 1000, "日本語" * 50,
]

SAMPLE_RNG_CASES = [
    (0, []),
    (42, ["cifar10_mcq", "s0000042"]),
    (-7, ["a", "", "b"]),
    (2**63 - 1, ["café", "日本語"]),
    (1234, ["task", "doc", "17", "fewshot"]),
    (-(2**63), ["x"]),
]

RANDBELOW_NS = [
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 31, 32, 33, 100, 255, 256, 257, 1000, 10**6,
    2**31 - 1, 2**31, 2**31 + 1, 2**32 - 1, 2**32, 2**32 + 1, 2**33 - 1, 10**12,
    2**53 - 1, 2**53, 2**53 + 1, 2**62 + 1, 2**63 - 1, 2**63, 2**63 + 1, 3 * 2**62,
    2**64 - 2, 2**64 - 1,
]

EXTRA_SAMPLE_PAIRS = [
    (85, 6), (86, 6), (277, 22), (278, 22), (100, 100), (1000, 1), (1000, 5), (1000, 6),
    (1000, 10), (1000, 100), (1000, 500), (1000, 1000), (4117, 1000), (4118, 1000),
    (100000, 1), (100000, 5), (100000, 50), (100000, 1000), (10**9, 10), (2**40, 20),
]

CHOICE_NS = [1, 2, 3, 10, 1000]

N_LIGHT_INTS = 2000       # seeds -500 .. 1499
N_LIGHT_BIG_INTS = 500    # (i * 0x9E3779B97F4A7C15) % 2**64 - 2**63
N_LIGHT_STRS = 1000       # f"{i}|cifar10_mcq|s{i:07d}"
N_LIGHT_RNGS = 500        # sample_rng(i, "mmlu", f"s{i:07d}")


def sample_pairs():
    pairs = [(n, k) for n in range(31) for k in range(n + 1)]
    return pairs + EXTRA_SAMPLE_PAIRS


def joined(values):
    return " ".join(map(str, values))


def full(rng, label, out):
    for _ in range(5):
        out(f"{label} random {rng.random()!r}")
    for k in range(65):
        out(f"{label} bits{k} {rng.getrandbits(k)}")
    for n in RANDBELOW_NS:
        out(f"{label} below{n} {rng._randbelow(n)}")
    for n in range(51):
        x = list(range(n))
        rng.shuffle(x)
        out(f"{label} shuffle{n} {joined(x)}")
    for n, k in sample_pairs():
        out(f"{label} sample{n},{k} {joined(rng.sample(range(n), k))}")
    for n in CHOICE_NS:
        out(f"{label} choice{n} {rng.choice(range(n))}")
    for _ in range(2):
        out(f"{label} random {rng.random()!r}")


def light(rng, label, out):
    out(f"{label} random {rng.random()!r}")
    out(f"{label} bits64 {rng.getrandbits(64)}")
    out(f"{label} bits33 {rng.getrandbits(33)}")
    out(f"{label} below1000 {rng._randbelow(1000)}")
    out(f"{label} below{2**64 - 1} {rng._randbelow(2**64 - 1)}")
    x = list(range(10))
    rng.shuffle(x)
    out(f"{label} shuffle10 {joined(x)}")
    out(f"{label} sample100,5 {joined(rng.sample(range(100), 5))}")
    out(f"{label} sample10,10 {joined(rng.sample(range(10), 10))}")
    out(f"{label} choice7 {rng.choice(range(7))}")


def sample_rng(seed, parts):
    return random.Random("|".join(map(str, (seed, *parts))))


def main():
    # The C port mirrors getrandbits-based _randbelow; fail loudly if CPython changed that.
    assert random.Random._randbelow is random.Random._randbelow_with_getrandbits
    lines = []
    out = lines.append
    for seed in FULL_INT_SEEDS:
        full(random.Random(seed), f"int:{seed}", out)
    for i, s in enumerate(FULL_STR_SEEDS):
        full(random.Random(s), f"str#{i}", out)
    for i, (seed, parts) in enumerate(SAMPLE_RNG_CASES):
        full(sample_rng(seed, parts), f"rng#{i}", out)
    for seed in range(-500, N_LIGHT_INTS - 500):
        light(random.Random(seed), f"int:{seed}", out)
    for i in range(N_LIGHT_BIG_INTS):
        seed = (i * 0x9E3779B97F4A7C15) % 2**64 - 2**63
        light(random.Random(seed), f"int:{seed}", out)
    for i in range(N_LIGHT_STRS):
        s = f"{i}|cifar10_mcq|s{i:07d}"
        light(random.Random(s), f"str:{s}", out)
    for i in range(N_LIGHT_RNGS):
        light(sample_rng(i, ["mmlu", f"s{i:07d}"]), f"rng:{i}|mmlu|s{i:07d}", out)
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
