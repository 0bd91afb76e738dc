#!/usr/bin/env bash
# Fleet benchmark: the launcher's own cost per target, apart from the containers'. The
# test API server serves PODS simulated pods on NODES simulated nodes (src/sim.rs in
# tests/apiserver) whose exec replays one real collector session (an archive of a small
# tree and its progress lines) instead of running anything. `cairn collect` takes them
# all over exec into --output-dir (--concurrency 50, the collector named by URL so
# that stdin carries no binary, no Kubernetes evidence), RUNS times; against the obvious
# alternative in the same run: `kubectl exec` once per pod, 50 at once (xargs -P 50),
# each writing its archive to a file. Also the node sweep: `--via node` starts one
# simulated collector pod per node and execs each target into its node's pod. Both
# again into s3s-fs (`--s3`): each simulated collector then uploads the archive through
# the plan cairn sends it, with cairn's own uploader (tests/apiserver/src/bin/
# cairn-sim-collector.rs), and cairn completes and checks every object. Prints medians
# of the wall time, the CPU seconds per target (user + system, the tools' own and their
# children's; the simulated pods' uploads are the test server's, not cairn's) and the
# peak RSS.
# Goals (issue 29): cairn's CPU <= 0.01 s per target; its RSS bounded (<= 64 MiB at 500).
# Needs kubectl and s3s-fs (tests/run-all.sh installs both); no Docker. Usage:
#   bench/fleet.sh [RUNS] [PODS] [NODES]     (defaults 3 500 50)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3} pods=${2:-500} nodes=${3:-50}
top=$PWD
cargo build -q --release -p cairn -p cairn-test-apiserver
cargo build -q --release -p cairn-collector --target x86_64-unknown-linux-musl
collector=$top/target/x86_64-unknown-linux-musl/release/cairn-collector
kubectl=${CAIRN_KUBECTL:-$top/tests/.work/py/bin/kubectl}
[ -x "$kubectl" ] || kubectl=$(command -v kubectl)
work=$(mktemp -d)
s3s=${CAIRN_S3S_FS:-$top/tests/.work/tools/bin/s3s-fs}
[ -x "$s3s" ] || { echo "fleet.sh: no s3s-fs at $s3s (tests/install.sh installs it; or set CAIRN_S3S_FS)" >&2; exit 1; }
cleanup() {
  if [ -n "${server:-}" ]; then kill "$server" 2>/dev/null || true; fi
  if [ -n "${store:-}" ]; then kill "$store" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# The session every simulated pod replays: a real collection of a small tree.
mkdir -p "$work/tree/etc" "$work/session"
for i in $(seq 200); do head -c $((RANDOM % 2000 + 100)) /dev/urandom >"$work/tree/etc/f$i"; done
printf 'artifacts:\n  - description: the tree\n    collector: file\n    path: /etc\n' >"$work/spec.yaml"
"$collector" collect --root "$work/tree" --artifacts "$work/spec.yaml" --progress json \
  --output - >"$work/session/stdout" 2>"$work/session/stderr"

"$top/target/release/cairn-test-apiserver" --kubeconfig-out "$work/kc" --sim-pods "$pods" \
  --sim-nodes "$nodes" --sim-session "$work/session" 2>"$work/server.log" &
server=$!
for _ in $(seq 100); do [ -f "$work/kc" ] && break; sleep 0.1; done
# The store: s3s-fs with the bucket `evidence`, on a free port.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/s3/evidence"
"$s3s" --host 127.0.0.1 --port "$port" --access-key cairnAK --secret-key cairnSecretKey0123456789 \
  "$work/s3" 2>"$work/s3s.log" &
store=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
export AWS_ACCESS_KEY_ID=cairnAK AWS_SECRET_ACCESS_KEY=cairnSecretKey0123456789 AWS_REGION=us-east-1
export AWS_ENDPOINT_URL=http://127.0.0.1:$port

for i in $(seq "$runs"); do
  /usr/bin/time -a -o "$work/cairn.time" -f "%e %U %S %M" "$top/target/release/cairn" \
    --kubeconfig "$work/kc" -n sim collect -l app=sim --concurrency 50 --progress none \
    --collector-bin "$collector" --collector-url "http://127.0.0.1:9/cairn-collector" \
    --no-k8s-evidence --output-dir "$work/out$i" -o json >"$work/cairn$i.json"
  /usr/bin/time -a -o "$work/sweep.time" -f "%e %U %S %M" "$top/target/release/cairn" \
    --kubeconfig "$work/kc" -n sim collect -l app=sim --via node --concurrency 50 --progress none \
    --collector-bin "$collector" --no-k8s-evidence --output-dir "$work/sout$i" -o json \
    >"$work/sweep$i.json"
  /usr/bin/time -a -o "$work/s3exec.time" -f "%e %U %S %M" "$top/target/release/cairn" \
    --kubeconfig "$work/kc" -n sim collect -l app=sim --concurrency 50 --progress none \
    --collector-bin "$collector" --collector-url "http://127.0.0.1:9/cairn-collector" \
    --no-k8s-evidence --s3 "s3://evidence/exec$i" -o json >"$work/s3exec$i.json"
  /usr/bin/time -a -o "$work/s3sweep.time" -f "%e %U %S %M" "$top/target/release/cairn" \
    --kubeconfig "$work/kc" -n sim collect -l app=sim --via node --concurrency 50 --progress none \
    --collector-bin "$collector" --no-k8s-evidence --s3 "s3://evidence/sweep$i" -o json \
    >"$work/s3sweep$i.json"
  rm -rf "$work/s3/evidence/exec$i" "$work/s3/evidence/sweep$i"
  mkdir -p "$work/kout$i"
  seq 0 $((pods - 1)) | awk '{printf "sim-%05d\n", $1}' >"$work/names"
  /usr/bin/time -a -o "$work/kubectl.time" -f "%e %U %S %M" xargs -P 50 -I{} \
    sh -c "'$kubectl' --kubeconfig '$work/kc' -n sim exec {} -- collect >'$work/kout$i/{}.tar.zst' 2>/dev/null" \
    <"$work/names"
  rm -rf "$work/out$i" "$work/sout$i" "$work/kout$i"
done 2>>"$work/cairn.log"
python3 - "$work" "$pods" "$nodes" <<'PY'
import json, statistics as st, sys
w, pods, nodes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def load(n):
    rows = [[float(x) for x in l.split()] for l in open(f"{w}/{n}.time") if l[:1].isdigit()]
    wall = st.median(r[0] for r in rows)
    cpu = st.median((r[1] + r[2]) / pods for r in rows)
    rss = st.median(r[3] for r in rows) / 1024
    return wall, cpu, rss, len(rows)
def ok(n):
    return sum(1 for r in json.load(open(f"{w}/{n}1.json")) if r.get("status") == "ok")
c, s, k = load("cairn"), load("sweep"), load("kubectl")
e3, s3 = load("s3exec"), load("s3sweep")
print(f"{pods} simulated targets on {nodes} nodes, medians of {c[3]} runs; cairn collected {ok('cairn')} of {pods} over exec, {ok('sweep')} in the node sweep, into s3s-fs {ok('s3exec')} and {ok('s3sweep')}")
def row(name, r, extra=""):
    print(f"  {name:<29} {r[0]:.2f} s wall, {r[1] * 1000:.1f} ms CPU per target (goal <= 10), peak RSS {r[2]:.1f} MiB (goal <= 64){extra}")
row("cairn collect (exec):", c)
row("cairn collect --via node:", s, f", {nodes} collector pods")
row("exec, into s3s-fs:", e3)
row("--via node, into s3s-fs:", s3)
print(f"  kubectl exec, once per pod: {k[0]:.2f} s wall, {k[1] * 1000:.1f} ms CPU per target")
print(f"  cairn / kubectl: wall {c[0] / k[0]:.2f}x, CPU {c[1] / k[1]:.2f}x")
PY
