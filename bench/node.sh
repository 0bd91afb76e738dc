#!/usr/bin/env bash
# Node-route benchmark, on the test bed's real Docker and containerd.
# 1. Enumeration: `cairn-collector containers --node-root /` with 200 containers on the
#    node (100 Docker, 100 containerd in namespace k8s.io, kubelet labels), against
#    `docker ps -a` plus `ctr -n k8s.io containers ls`, which ask the running daemons.
#    Target: under 1 s.
# 2. Offline collection of a Debian container's default profile from its layers
#    (`collect --node-root / --container ID`) against the live collection of the same
#    container (the collector run inside it through `docker exec`, output to stdout).
#    Target: offline within 1.2 times live.
# Medians of RUNS hyperfine runs. Needs Docker and containerd running (tests/run-all.sh
# starts both) and root. Usage: bench/node.sh [RUNS]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
for t in hyperfine:hyperfine debootstrap:debootstrap; do
  command -v "${t%%:*}" >/dev/null || { apt-get update -qq && apt-get install -y -qq "${t#*:}" >/dev/null; }
done
cargo build --release -q -p cairn-collector --target x86_64-unknown-linux-musl
bin=$PWD/target/x86_64-unknown-linux-musl/release/cairn-collector
work=$(mktemp -d)
tag=bench-$$
ids=()
cleanup() {
  if [ ${#ids[@]} -gt 0 ]; then docker rm -f "${ids[@]}" >/dev/null 2>&1 || true; fi
  for i in $(seq 100); do ctr -n k8s.io containers rm "$tag-$i" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

img=cairn-test-debian:1
if ! docker image inspect "$img" >/dev/null 2>&1; then
  debootstrap --variant=minbase bookworm "$work/root" http://deb.debian.org/debian >/dev/null
  tar -C "$work/root" --numeric-owner -cf "$work/img.tar" . && docker import -c 'CMD ["/bin/bash"]' "$work/img.tar" "$img" >/dev/null
  rm -rf "$work/root" "$work/img.tar"
fi
docker save -o "$work/img.tar" "$img"
ctr -n k8s.io images import "$work/img.tar" >/dev/null
rm -f "$work/img.tar"

echo "== creating 100 Docker and 100 containerd containers"
for i in $(seq 100); do
  ids+=("$(docker create --label io.kubernetes.pod.namespace=bench --label "io.kubernetes.pod.name=pod-$i" \
    --label io.kubernetes.container.name=app "$img" sleep 3600)")
  ctr -n k8s.io containers create --snapshotter overlayfs --label io.kubernetes.pod.namespace=bench \
    --label "io.kubernetes.pod.name=cpod-$i" --label io.kubernetes.container.name=app \
    "docker.io/library/$img" "$tag-$i" sleep 3600 >/dev/null
done
found=$("$bin" containers --node-root / -o json | python3 -c 'import json,sys; print(len([c for c in json.load(sys.stdin) if c.get("pod_namespace") == "bench"]))')
echo "containers with pod namespace bench found offline: $found (expected 200)"

hyperfine -N -w 1 -r "$runs" --export-json "$work/enum.json" \
  -n cairn "$bin containers --node-root / -o json" \
  -n daemons "sh -c 'docker ps -a --no-trunc >/dev/null && ctr -n k8s.io containers ls >/dev/null'" >/dev/null

echo "== offline vs live collection of one running Debian container (default profile)"
live=$(docker run -d -v "$bin:/opt/cairn-collector:ro" "$img" sleep 3600)
ids+=("$live")
docker exec "$live" sh -c 'for i in $(seq 200); do echo "line $i" >> /var/log/app.log; done; echo implant > /tmp/x.sh'
hyperfine -w 1 -r "$runs" --export-json "$work/collect.json" \
  -n offline "$bin collect --node-root / --container $live --output $work/off.tar.zst --progress none" \
  -n live "docker exec $live /opt/cairn-collector collect --output - --progress none > /dev/null" >/dev/null

python3 - "$work/enum.json" "$work/collect.json" <<'PY'
import json, sys
def med(path):
    return {r["command"]: r["median"] for r in json.load(open(path))["results"]}
e, c = med(sys.argv[1]), med(sys.argv[2])
print(f"enumerate 200 containers: cairn {e['cairn']:.3f} s (target < 1 s); docker ps -a + ctr containers ls {e['daemons']:.3f} s; ratio {e['cairn']/e['daemons']:.2f}")
print(f"collect default profile: offline {c['offline']:.3f} s, live through docker exec {c['live']:.3f} s; ratio offline/live {c['offline']/c['live']:.2f} (target <= 1.2)")
PY
