#!/usr/bin/env bash
# Node sweep benchmark, on the test bed's real Docker: PODS busybox containers on the one
# node of the test API server (labelled as the kubelet labels them), each with a small
# tree of its own, collected with `cairn collect --via node` (default profile, into
# --output-dir, --concurrency 4, no Kubernetes evidence): one collector pod sweeping them
# all, against the obvious alternative in the same run, a pod per target
# (`--pod-per-target`, what the node route did before). RUNS runs each, alternating;
# prints median wall times and the ratio. Goal (issue 29): the sweep at most half the
# time. Needs Docker running (tests/run-all.sh starts it) and root.
# Usage: bench/sweep.sh [RUNS] [PODS]   (defaults 5 20)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5} pods=${2:-20}
top=$PWD
cargo build -q --release -p cairn -p cairn-test-apiserver
cargo build -q --release -p cairn-collector --target x86_64-unknown-linux-musl
collector=$top/target/x86_64-unknown-linux-musl/release/cairn-collector
work=$(mktemp -d)
ns=bench-sweep-$$
image=cairn-collector:bench-sweep-$$
# shellcheck source=bench/busybox-image.sh
. "$top/bench/busybox-image.sh"
cleanup() {
  if [ -n "${server:-}" ]; then kill "$server" 2>/dev/null || true; fi
  docker ps -aq --filter "label=io.kubernetes.pod.namespace=$ns" | xargs -r docker rm -f >/dev/null
  docker ps -aq --filter label=app.kubernetes.io/name=cairn-node-collector | xargs -r docker rm -f >/dev/null
  docker rmi -f "$image" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

bash scripts/build-image.sh --bin "$collector" --tag "$image" >/dev/null
bb=$(busybox_image "$work")
for i in $(seq "$pods"); do
  id=$(docker run -d --network none --label "io.kubernetes.pod.namespace=$ns" \
    --label "io.kubernetes.pod.name=pod-$i" --label io.kubernetes.container.name=app \
    --label app=sweep "$bb" sleep 3600)
  docker exec "$id" sh -c 'mkdir -p /tmp/work /var/log; for f in $(seq 50); do echo "line $f" > /tmp/work/f$f; done; echo implant > /tmp/x.sh'
done

"$top/target/release/cairn-test-apiserver" --kubeconfig-out "$work/kc" 2>"$work/server.log" &
server=$!
for _ in $(seq 100); do [ -f "$work/kc" ] && break; sleep 0.1; done

# run KIND I [ARGS]: one timed collection of every pod.
run() {
  /usr/bin/time -a -o "$work/$1.time" -f "%e" "$top/target/release/cairn" --kubeconfig "$work/kc" \
    -n "$ns" collect -l app=sweep --via node --collector-image "$image" --collector-bin "$collector" --concurrency 4 \
    --progress none --no-k8s-evidence --output-dir "$work/out" -o json "${@:3}" \
    >"$work/$1$2.json" 2>>"$work/cairn.log" || { tail -5 "$work/cairn.log" >&2; exit 1; }
  rm -rf "$work/out"
}
for i in $(seq "$runs"); do
  run sweep "$i"
  run each "$i" --pod-per-target
done
python3 - "$work" "$pods" "$runs" <<'PY'
import json, statistics as st, sys
w, pods, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def wall(n):
    return st.median(float(l) for l in open(f"{w}/{n}.time") if l[:1].isdigit())
def ok(n):
    return min(sum(1 for r in json.load(open(f"{w}/{n}{i}.json")) if r.get("status") == "ok") for i in range(1, runs + 1))
s, e = wall("sweep"), wall("each")
print(f"{pods} busybox pods on one node, --via node, --concurrency 4, medians of {runs} runs")
print(f"  one pod sweeping all:   {s:.2f} s wall ({ok('sweep')} of {pods} collected in every run)")
print(f"  a pod per target:       {e:.2f} s wall ({ok('each')} of {pods} collected in every run)")
print(f"  sweep / pod per target: {s / e:.2f}x (goal <= 0.5)")
PY
