#!/usr/bin/env bash
# Live-response benchmark: a busybox container holding 200 processes and 2,000 TCP
# sockets (1,000 loopback connections held by 10 processes inside the container's PID
# and network namespaces). Times the collector's live-response artifacts against what
# a shell-based collector does with the container's own tools (busybox ps, netstat -p,
# ls -l of every fd), both through `docker exec` in the same hyperfine run, and
# measures the collector's peak RSS (median of /usr/bin/time over several runs, run
# in the container's namespaces with nsenter). Targets: under 1 s, under 32 MiB.
# Needs a running Docker daemon (tests/run-all.sh starts one).
# Usage: bench/live.sh [RUNS]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
work=$PWD/bench/work
mkdir -p "$work"
for t in hyperfine:hyperfine /usr/bin/time:time busybox:busybox-static nsenter:util-linux; do
  command -v "${t%%:*}" >/dev/null || { apt-get update -qq && apt-get install -y -qq "${t#*:}" >/dev/null; }
done
cargo build --release -q -p cairn-collector --target x86_64-unknown-linux-musl
bin=$PWD/target/x86_64-unknown-linux-musl/release/cairn-collector

img=cairn-bench-busybox:1
if ! docker image inspect "$img" >/dev/null 2>&1; then
  r=$(mktemp -d)
  mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,proc,sys,dev,var/log}
  cp /bin/busybox "$r/bin/busybox"
  chroot "$r" /bin/busybox --install -s /bin
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$r/etc/passwd"
  chmod 1777 "$r/tmp"
  tar -C "$r" --numeric-owner -cf "$r.tar" .
  docker import -c 'ENV PATH=/bin:/sbin:/usr/bin:/usr/sbin' "$r.tar" "$img" >/dev/null
  rm -rf "$r" "$r.tar"
fi

ct=cairn-bench-live-$$
holders=()
trap 'kill "${holders[@]}" 2>/dev/null; docker rm -f "$ct" >/dev/null 2>&1 || true' EXIT
docker run -d --name "$ct" -v "$bin:/opt/cairn/cairn-collector:ro" "$img" sleep 3600 >/dev/null
pid=$(docker inspect -f '{{.State.Pid}}' "$ct")
# 190 sleepers inside the container.
docker exec -d "$ct" sh -c 'for i in $(seq 190); do sleep 3600 & done; wait'
# 10 socket holders in the container's PID and network namespaces, 100 connections
# (200 sockets) each: 2,000 sockets, 10 listeners.
for i in $(seq 0 9); do
  nsenter -t "$pid" -n -p python3 -c '
import socket, sys, time
port = 20000 + int(sys.argv[1])
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", port)); l.listen(200)
keep = []
for _ in range(100):
    c = socket.create_connection(("127.0.0.1", port)); s, _ = l.accept(); keep += [c, s]
time.sleep(3600)' "$i" >/dev/null 2>&1 &
  holders+=($!)
  disown $!
done
for _ in $(seq 100); do
  n=$(docker exec "$ct" sh -c 'cat /proc/net/tcp | wc -l')
  [ "$n" -ge 2011 ] && break
  sleep 0.2
done
procs=$(docker exec "$ct" sh -c 'ls -d /proc/[0-9]* | wc -l')
socks=$(( $(docker exec "$ct" sh -c 'cat /proc/net/tcp | wc -l') - 1 ))
echo "container: $procs processes, $socks tcp sockets; $(nproc) cores"

arts='live/processes,live/executables,live/network,live/mounts,live/system,live/users'
hyperfine --warmup 1 --runs "$runs" --export-json "$work/live.json" \
  -n cairn-live "docker exec $ct /opt/cairn/cairn-collector collect --artifacts $arts --progress none --output - >/dev/null" \
  -n busybox-shell "docker exec $ct sh -c 'ps -o pid,ppid,user,args; netstat -antup; netstat -anxp; cat /proc/self/mountinfo; ls -l /proc/[0-9]*/fd /proc/[0-9]*/exe' >/dev/null 2>&1"

rss=()
for _ in $(seq "$runs"); do
  /usr/bin/time -f '%M' -o "$work/live-rss" nsenter -t "$pid" -a /opt/cairn/cairn-collector \
    collect --artifacts "$arts" --progress none --output - >"$work/live.tar.zst" 2>/dev/null
  rss+=("$(cat "$work/live-rss")")
done
# The collector's own account of its time, from the last archive.
inner=$(tar --zstd -xOf "$work/live.tar.zst" summary.json | python3 -c 'import json,sys; print(json.load(sys.stdin)["duration_seconds"])')
python3 - "$work/live.json" "$inner" "${rss[@]}" <<'PY'
import json, statistics, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
c, b = statistics.median(res["cairn-live"]["times"]), statistics.median(res["busybox-shell"]["times"])
rss = sorted(int(x) for x in sys.argv[3:])
print(f"median wall via docker exec: cairn live response {c:.3f}s, busybox ps/netstat/ls {b:.3f}s, ratio {c/b:.2f}")
print(f"collector's own duration (summary.json, last run): {float(sys.argv[2]):.3f}s (target < 1 s)")
print(f"collector peak RSS: median {statistics.median(rss)/1024:.1f} MiB (min {rss[0]/1024:.1f}, max {rss[-1]/1024:.1f}; target < 32)")
PY
