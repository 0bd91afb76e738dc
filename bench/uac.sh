#!/usr/bin/env bash
# cairn against UAC 3.3 itself (tests/uac-3.3) on the same UAC artifacts and the same
# root, and against `tar | zstd -3 -T0 | sha256sum` of the same directories, timed by
# hyperfine in one run; prints medians, ratios, cairn's peak RSS and the files each
# collected. The root (bench/gen-uac-tree.py): a copy of /etc, eight large logs, 30,000
# small files in /tmp and /var/spool. Usage: bench/uac.sh [RUNS]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
top=$PWD
work=$top/bench/work/uac
mkdir -p "$work"
for t in hyperfine:hyperfine zstd:zstd /usr/bin/time:time; do
  command -v "${t%%:*}" >/dev/null || { apt-get update -qq && apt-get install -y -qq "${t#*:}" >/dev/null; }
done
cargo build --release -q -p cairn-collector --target x86_64-unknown-linux-musl
bin=$top/target/x86_64-unknown-linux-musl/release/cairn-collector
root=$work/root
[ -d "$root" ] || python3 bench/gen-uac-tree.py "$root"
arts=(files/logs/var_log.yaml files/system/etc.yaml files/system/tmp.yaml files/system/var_spool.yaml)
uac_list=$(IFS=,; echo "${arts[*]}")
cairn_list=$(printf "$top/tests/uac-3.3/artifacts/%s," "${arts[@]}"); cairn_list=${cairn_list%,}
echo "root: $(find "$root" -type f | wc -l) files, $(du -sm "$root" | cut -f1) MiB; $(nproc) cores"
echo "artifacts: $uac_list"

# Each tool writes its archive to a file, as a responder would keep it.
uac_cmd="cd $top/tests/uac-3.3 && ./uac -u -s linux -a $uac_list -m $root -o uac $work/uac-out >/dev/null 2>&1"
cairn_cmd="$bin collect --root $root --artifacts $cairn_list --progress none --force --output $work/cairn.tar.zst >/dev/null 2>&1"
tar_cmd="tar -cf - -C $root etc var/log tmp var/spool | zstd -3 -T0 -q -c | sha256sum >/dev/null"
hyperfine --warmup 1 --runs "$runs" --export-json "$work/hyperfine.json" \
  --prepare "rm -rf $work/uac-out && mkdir -p $work/uac-out" \
  -n uac "$uac_cmd" -n cairn "$cairn_cmd" -n tar-zstd-sha256 "$tar_cmd"

rss=()
for _ in $(seq "$runs"); do
  /usr/bin/time -f '%M' -o "$work/rss" sh -c "$cairn_cmd"
  rss+=("$(cat "$work/rss")")
done
# What each collected, as paths in the root (hyperfine's last --prepare emptied UAC's
# output, so UAC runs once more).
rm -rf "$work/uac-out" && mkdir -p "$work/uac-out" && sh -c "$uac_cmd"
tar -tzf "$work/uac-out/uac.tar.gz" | sed -n 's|^\[root\]||p' | sort -u >"$work/uac.files"
"$bin" verify "$work/cairn.tar.zst" >/dev/null
zstd -dc "$work/cairn.tar.zst" | tar -t | sed -n 's|^files||p' | sort -u >"$work/cairn.files"
python3 - "$work" "${rss[@]}" <<'PY'
import json, statistics, sys
work = sys.argv[1]
res = {r["command"]: statistics.median(r["times"]) for r in json.load(open(f"{work}/hyperfine.json"))["results"]}
rss = sorted(int(x) for x in sys.argv[2:])
u, c, t = res["uac"], res["cairn"], res["tar-zstd-sha256"]
print(f"median wall: UAC {u:.2f}s, cairn {c:.2f}s, tar|zstd -3 -T0|sha256sum {t:.2f}s")
print(f"UAC / cairn: {u/c:.1f}x (target >= 10); cairn / tar pipeline: {c/t:.2f} (target <= 1.0)")
print(f"cairn peak RSS median: {statistics.median(rss)/1024:.1f} MiB (runs: {', '.join(f'{r/1024:.1f}' for r in rss)})")
uac = set(open(f"{work}/uac.files").read().split("\n")) - {""}
cairn = set(open(f"{work}/cairn.files").read().split("\n")) - {""}
print(f"files: UAC {len(uac)}, cairn {len(cairn)}, both {len(uac & cairn)}")
print(f"UAC only: {sorted(uac - cairn)[:10]}{' ...' if len(uac - cairn) > 10 else ''}")
print(f"cairn only: {sorted(cairn - uac)[:10]}{' ...' if len(cairn - uac) > 10 else ''}")
PY
