#!/usr/bin/env python3
"""Generates the mixed root of bench/uac.sh: a copy of this machine's /etc, eight large
application logs under /var/log (about 48 MiB each), and 30,000 small files spread over
/tmp and /var/spool, as a busy container has them. Deterministic apart from /etc.
"""
import os
import random
import shutil
import sys

root = sys.argv[1]
random.seed(7)
shutil.copytree("/etc", os.path.join(root, "etc"), symlinks=True,
                ignore_dangling_symlinks=True, dirs_exist_ok=True,
                ignore=shutil.ignore_patterns("*.lock"))
words = [w.encode() for w in "GET POST /api/v1/orders /login 200 302 404 500 upstream timeout session user token".split()]


def text(n):
    out = bytearray()
    i = 0
    while len(out) < n:
        i += 1
        out += b"2026-11-%02d 10:%02d:%02d 10.0.%d.%d " % (i % 28 + 1, i % 60, (i * 7) % 60, i % 256, (i * 5) % 256)
        out += b" ".join(random.choice(words) for _ in range(10)) + b" %d\n" % random.randrange(10**9)
    return bytes(out[:n])


logs = os.path.join(root, "var/log/app")
os.makedirs(logs, exist_ok=True)
block = text(4 << 20)
for i in range(8):
    with open(os.path.join(logs, "app-%d.log" % i), "wb") as f:
        for _ in range(12):
            f.write(block)
small = text(1 << 16)
for i in range(30000):
    top = "tmp/session-%03d" % (i % 300) if i % 2 else "var/spool/queue/%03d" % (i % 300)
    d = os.path.join(root, top)
    os.makedirs(d, exist_ok=True)
    n = random.randrange(64, 4096)
    off = random.randrange(0, len(small) - n)
    with open(os.path.join(d, "item-%05d" % i), "wb") as f:
        f.write(small[off:off + n])
