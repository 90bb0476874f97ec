#!/usr/bin/env python3
"""An independent reference for ParallelRandom (Sources/ParallelCore/Random/ParallelRandom.swift),
written from the algorithm's description in its doc comment, not from the Swift code.

Run by hand: `python3 Scripts/parallel_random_reference.py`. It prints the first outputs for the
(seed, stream) pairs that Tests/ParallelRandomTests freezes; the two must agree.
"""

MASK = (1 << 64) - 1


def mix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def splitmix(state, increment, count):
    out = []
    for _ in range(count):
        state = (state + increment) & MASK
        out.append(mix(state))
    return out


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK


def parallel_random(seed, stream, count):
    a = splitmix(seed & MASK, 0x9E3779B97F4A7C15, 4)
    b = splitmix(stream & MASK, 0xD1B54A32D192ED03, 4)  # stream as its 64-bit two's complement
    s = [x ^ y for x, y in zip(a, b)]
    if not any(s):
        s = a
    out = []
    for _ in range(count):
        out.append((rotl((s[1] * 5) & MASK, 7) * 9) & MASK)
        t = (s[1] << 17) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
    return out


if __name__ == "__main__":
    for seed, stream in [(0, 0), (42, 0), (42, 1), (42, 2), (2**64 - 1, -1), (12345, 1_000_000)]:
        values = ", ".join("0x%016X" % v for v in parallel_random(seed, stream, 5))
        print(f"(seed: {seed}, stream: {stream}): [{values}]")
