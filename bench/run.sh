#!/usr/bin/env bash
# Collection benchmark: cairn-collector vs `tar -cf - ROOT | zstd -3 | sha256sum` on the
# same synthetic tree (about 30,000 files, 1 GiB), both with a warm page cache, timed by
# hyperfine in the same run. Prints the median wall ratio, the collector's peak RSS
# (median of /usr/bin/time over several runs) and the stripped static binary's size.
# Usage: bench/run.sh [RUNS]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
work=bench/work
mkdir -p "$work"
for t in hyperfine:hyperfine zstd:zstd /usr/bin/time:time musl-gcc:musl-tools; do
  command -v "${t%%:*}" >/dev/null || { apt-get update -qq && apt-get install -y -qq "${t#*:}" >/dev/null; }
done
rustup target list --installed | grep -q x86_64-unknown-linux-musl || rustup target add x86_64-unknown-linux-musl
cargo build --release -q -p cairn-collector --target x86_64-unknown-linux-musl
bin=$PWD/target/x86_64-unknown-linux-musl/release/cairn-collector
root=$PWD/$work/root
[ -d "$root" ] || python3 bench/gen-tree.py "$root"
spec=$PWD/$work/everything.yaml
printf 'artifacts:\n  - description: the whole tree\n    collector: file\n    path: /\n' >"$spec"

echo "tree: $(find "$root" -type f | wc -l) files, $(du -sm "$root" | cut -f1) MiB; $(nproc) cores"
hyperfine --warmup 1 --runs "$runs" --export-json "$work/hyperfine.json" \
  -n cairn "$bin collect --root $root --artifacts $spec --max-file-size 4G --progress none --output - >/dev/null 2>&1" \
  -n tar-zstd-sha256 "tar -cf - -C $root . | zstd -3 -q -c | sha256sum >/dev/null"

rss=()
for _ in $(seq "$runs"); do
  /usr/bin/time -f '%M' -o "$work/rss" "$bin" collect --root "$root" --artifacts "$spec" --max-file-size 4G --progress none --output - >/dev/null 2>/dev/null
  rss+=("$(cat "$work/rss")")
done
size=$(stat -c %s "$bin")
python3 - "$work/hyperfine.json" "$size" "${rss[@]}" <<'PY'
import json, statistics, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
c, b = statistics.median(res["cairn"]["times"]), statistics.median(res["tar-zstd-sha256"]["times"])
rss = sorted(int(x) for x in sys.argv[3:])
size = int(sys.argv[2])
print(f"median wall: cairn {c:.3f}s, tar|zstd -3|sha256sum {b:.3f}s, ratio {c/b:.2f} (target <= 1.0)")
print(f"collector peak RSS median: {statistics.median(rss)/1024:.1f} MiB (runs: {', '.join(f'{r/1024:.1f}' for r in rss)}) (target < 32 MiB)")
print(f"stripped static binary: {size/2**20:.2f} MiB (target < 8 MiB)")
PY
