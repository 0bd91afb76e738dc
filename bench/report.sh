#!/usr/bin/env bash
# Report benchmark: `cairn report` and `cairn timeline` on one archive of 200,000 files
# (about 500 MB, incompressible; bench/gen-report-tree.py), against reading the same
# archive once (`zstd -dc | tar -t`) and extracting it (`zstd -dc | tar -x`), timed by
# hyperfine in the same run; the peak RSS of each cairn command by /usr/bin/time.
# Prints medians and ratios. Usage: bench/report.sh [RUNS]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
work=$PWD/bench/work/report
mkdir -p "$work"
for t in hyperfine:hyperfine zstd:zstd /usr/bin/time:time; do
  command -v "${t%%:*}" >/dev/null || { apt-get update -qq && apt-get install -y -qq "${t#*:}" >/dev/null; }
done
cargo build --release -q -p cairn
cargo build --release -q -p cairn-collector --target x86_64-unknown-linux-musl
cairn=$PWD/target/release/cairn
collector=$PWD/target/x86_64-unknown-linux-musl/release/cairn-collector
root=$work/root
[ -d "$root" ] || python3 bench/gen-report-tree.py "$root"
archive=$work/bench_big_main_20261130T000000Z.tar.zst
if [ ! -f "$archive" ]; then
  spec=$work/everything.yaml
  printf 'artifacts:\n  - description: the whole tree\n    collector: file\n    path: /\n' >"$spec"
  "$collector" collect --root "$root" --artifacts "$spec,live/timeline" --max-file-size 4G \
    --progress none --output "$archive" 2>/dev/null
fi
echo "archive: $(du -m "$archive" | cut -f1) MiB, $(find "$root" -type f | wc -l) files; $(nproc) cores"
hyperfine --runs "$runs" --export-json "$work/hyperfine.json" \
  -n report "$cairn report $archive --output $work/report.html --force 2>/dev/null" \
  -n timeline "$cairn timeline $archive --output $work/timeline.csv --force 2>/dev/null" \
  -n read-once "zstd -dc $archive | tar -tf - >/dev/null" \
  -n extract "rm -rf $work/x && mkdir $work/x && zstd -dc $archive | tar -xf - -C $work/x" >/dev/null
rm -rf "$work/x"
: >"$work/rss.txt"
for _ in $(seq "$runs"); do
  /usr/bin/time -f '%M' -o "$work/r" "$cairn" report "$archive" --output "$work/report.html" --force 2>/dev/null
  /usr/bin/time -f '%M' -o "$work/t" "$cairn" timeline "$archive" --output "$work/timeline.csv" --force 2>/dev/null
  echo "$(tail -1 "$work/r") $(tail -1 "$work/t")" >>"$work/rss.txt"
done
python3 - "$work" <<'PY'
import json, statistics as st, sys
w = sys.argv[1]
res = {r["command"]: st.median(r["times"]) for r in json.load(open(f"{w}/hyperfine.json"))["results"]}
rss = [list(map(int, l.split())) for l in open(f"{w}/rss.txt")]
for k in ("report", "timeline", "read-once", "extract"):
    print(f"{k:10} median {res[k]:6.2f} s")
print(f"report / read-once: {res['report'] / res['read-once']:.2f}; report / extract: {res['report'] / res['extract']:.2f}")
print(f"timeline / read-once: {res['timeline'] / res['read-once']:.2f}")
print(f"peak RSS: report {st.median(r[0] for r in rss) / 1024:.1f} MiB, timeline {st.median(r[1] for r in rss) / 1024:.1f} MiB")
PY
