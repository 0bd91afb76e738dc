#!/usr/bin/env bash
# Process-memory benchmark: a process holding 1 GiB resident (a python bytearray of
# varied bytes, so neither tool gains from zero pages), captured by the collector
# (`collect --artifacts memory/* --memory-pids PID`: an ELF core in a zstd archive,
# every byte hashed, to /dev/null) against `gcore` (Debian's gdb: an uncompressed core,
# ptrace-stopping the process, to a file on tmpfs), and gcore followed by what makes its
# core equivalent to cairn's (`sha256sum` of the core, `zstd -3 -T0` of it and
# `sha256sum` of that), all in the same hyperfine run, medians of RUNS; and the
# collector's peak RSS (median of /usr/bin/time over RUNS).
# Goal: at least 2x faster than gcore, the collector under 64 MiB.
# Usage: bench/memory.sh [RUNS]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
for t in hyperfine:hyperfine /usr/bin/time:time gcore:gdb python3:python3 zstd:zstd; do
  command -v "${t%%:*}" >/dev/null || { apt-get update -qq && apt-get install -y -qq "${t#*:}" >/dev/null; }
done
cargo build --release -q -p cairn-collector --target x86_64-unknown-linux-musl
bin=$PWD/target/x86_64-unknown-linux-musl/release/cairn-collector
out=$(mktemp -d /dev/shm/cairn-bench-memory.XXXXXX)
python3 -c "
import os, sys, time
b = bytearray(os.urandom(1 << 20) * 1024)
print('ready', flush=True)
time.sleep(3600)" >"$out/ready" &
holder=$!
trap 'kill "$holder" 2>/dev/null; rm -rf "$out"' EXIT
until grep -q ready "$out/ready" 2>/dev/null; do sleep 0.2; done
echo "target: pid $holder, $(awk '/VmRSS/ {print $2 / 1024 " MiB resident"}' "/proc/$holder/status")"

hyperfine --runs "$runs" --warmup 1 --export-json "$out/h.json" \
  -n cairn "$bin collect --artifacts 'memory/*' --memory-pids $holder --progress none --output - >/dev/null" \
  -n gcore "gcore -o $out/core $holder >/dev/null 2>&1; rm -f $out/core.$holder" \
  -n gcore-hashed "gcore -o $out/core $holder >/dev/null 2>&1; sha256sum $out/core.$holder >/dev/null; zstd -q -3 -T0 -c $out/core.$holder | sha256sum >/dev/null; rm -f $out/core.$holder"

rss=()
for _ in $(seq "$runs"); do
  rss+=("$(/usr/bin/time -f %M "$bin" collect --artifacts 'memory/*' --memory-pids "$holder" --progress none --output - 2>&1 >/dev/null | tail -1)")
done
python3 - "$out/h.json" "${rss[@]}" <<'PY'
import json, statistics, sys
r = {x["command"]: statistics.median(x["times"]) for x in json.load(open(sys.argv[1]))["results"]}
rss = statistics.median(int(v) for v in sys.argv[2:]) / 1024
print(f"cairn  median {r['cairn']:.2f} s   gcore median {r['gcore']:.2f} s   gcore/cairn {r['gcore'] / r['cairn']:.2f}x (goal >= 2)")
print(f"gcore + sha256sum + zstd -3 -T0 + sha256sum median {r['gcore-hashed']:.2f} s   that/cairn {r['gcore-hashed'] / r['cairn']:.2f}x")
print(f"collector peak RSS median {rss:.1f} MiB (goal < 64)")
PY
