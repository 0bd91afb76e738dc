#!/usr/bin/env bash
# YARA benchmark: the responder's rules over a tree of 1 GiB of files (1,024 files of
# 1 MiB of random bytes, one of them holding a planted string), three ways in the same
# hyperfine run, medians of RUNS: Debian's `yara -r` alone; the collector collecting the
# tree with `--yara` (the rules see each file as it streams into the archive: no second
# read); and the same collection without rules, so the cost of the rules inside a
# collection is the difference. Prints cairn+rules / yara and the rules' own share.
# Goal: the rules' share no slower than `yara -r` alone.
# Usage: bench/yara.sh [RUNS]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
for t in hyperfine:hyperfine yara:yara python3:python3; do
  command -v "${t%%:*}" >/dev/null || { apt-get update -qq && apt-get install -y -qq "${t#*:}" >/dev/null; }
done
cargo build --release -q -p cairn-collector --target x86_64-unknown-linux-musl
bin=$PWD/target/x86_64-unknown-linux-musl/release/cairn-collector
work=$PWD/bench/work/yara
tree=$work/tree
mkdir -p "$work"
if [ ! -f "$tree/.done" ]; then
  rm -rf "$tree" && mkdir -p "$tree/data"
  python3 - "$tree/data" <<'PY'
import os, sys
d = sys.argv[1]
for i in range(1024):
    b = bytearray(os.urandom(1 << 20))
    if i == 700:
        b[4096:4096 + 21] = b"CAIRN-BENCH-PLANTED-1"
    open(os.path.join(d, f"f{i:04}.bin"), "wb").write(b)
PY
  touch "$tree/.done"
fi
cat >"$work/rules.yar" <<'YAR'
rule planted { strings: $a = "CAIRN-BENCH-PLANTED-1" condition: $a }
rule elf_header { strings: $e = { 7F 45 4C 46 02 01 01 } condition: $e at 0 }
rule shell_fetch { strings: $c = "curl -s http" $w = "wget -qO-" condition: any of them }
YAR
printf 'artifacts:\n  - description: the tree\n    collector: file\n    path: /data\n' >"$work/spec.yaml"
collect="$bin collect --root $tree --artifacts $work/spec.yaml --progress none --output -"
hyperfine --runs "$runs" --warmup 1 --export-json "$work/h.json" \
  -n yara "yara -r $work/rules.yar $tree/data >/dev/null" \
  -n cairn-yara "$collect --yara $work/rules.yar >/dev/null" \
  -n cairn "$collect >/dev/null"
python3 - "$work/h.json" <<'PY'
import json, statistics, sys
r = {x["command"]: statistics.median(x["times"]) for x in json.load(open(sys.argv[1]))["results"]}
print(f"yara -r {r['yara']:.2f} s   cairn collect --yara {r['cairn-yara']:.2f} s   cairn collect {r['cairn']:.2f} s")
print(f"cairn+rules / yara: {r['cairn-yara'] / r['yara']:.2f}x   the rules' share inside the collection: {r['cairn-yara'] - r['cairn']:.2f} s, / yara: {(r['cairn-yara'] - r['cairn']) / r['yara']:.2f}x (goal <= 1)")
PY
