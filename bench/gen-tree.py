#!/usr/bin/env python3
"""Generates a synthetic container root for the collection benchmark.

About 30,000 files and 1 GiB: many small config/text files, some medium files,
large application logs, and some incompressible binaries (as in real images).
Deterministic (fixed seed), so every run measures the same tree.
"""
import os
import random
import sys

root = sys.argv[1]
random.seed(42)
words = [w.encode() for w in "GET POST PUT /api/v1/users /login /static/app.js 200 404 500 curl Mozilla/5.0 info warn error session token upstream timeout".split()]


def text(n):
    out = bytearray()
    i = 0
    while len(out) < n:
        i += 1
        out += b"2026-11-%02d 12:%02d:%02d 10.%d.%d.%d " % (i % 28 + 1, i % 60, (i * 7) % 60, i % 256, (i * 3) % 256, (i * 11) % 256)
        out += b" ".join(random.choice(words) for _ in range(8)) + b" %d\n" % random.randrange(10**9)
    return bytes(out[:n])


total = 0
chunk = text(1 << 20)
for d in range(300):
    sub = os.path.join(root, "usr/share/pkg%03d" % d)
    os.makedirs(sub, exist_ok=True)
    for f in range(99):
        n = random.choice([200, 800, 2000, 4000, 9000, 16000])
        off = random.randrange(len(chunk) - n)
        with open(os.path.join(sub, "file%02d.conf" % f), "wb") as fh:
            fh.write(chunk[off:off + n])
        total += n
logs = os.path.join(root, "var/log/app")
os.makedirs(logs, exist_ok=True)
for i in range(24):
    with open(os.path.join(logs, "app-%02d.log" % i), "wb") as fh:
        for _ in range(25):
            fh.write(text(1 << 20))
            total += 1 << 20
bins = os.path.join(root, "usr/bin")
os.makedirs(bins, exist_ok=True)
for i in range(40):
    with open(os.path.join(bins, "tool%02d" % i), "wb") as fh:
        fh.write(os.urandom(5 << 20))
        total += 5 << 20
print("generated %d files, %.0f MiB" % (300 * 99 + 64, total / 2**20))
