#!/usr/bin/env bash
# Kubernetes evidence benchmark: what `cairn collect` writes beside each archive
# (NAME.k8s.tar.zst: both runs' logs of a restarted container, the pod, its owners,
# events, node, service account and RBAC, network policies), read through the test API
# server from a pod whose container printed LOG_MB MiB in each of its two runs; against
# the obvious manual alternative in the same run: kubectl logs (current and --previous,
# with timestamps) and kubectl get of the same objects, then `tar | zstd -3 | sha256sum`.
# Prints medians of RUNS runs: cairn's evidence step (its own timing, k8s_evidence.ms),
# the manual sequence, their ratio, and the launcher's peak RSS with and without the
# evidence. Needs Docker and kubectl (tests/run-all.sh installs both).
# Usage: bench/k8s-evidence.sh [RUNS] [LOG_MB]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
log_mb=${2:-8}
top=$PWD
cargo build -q --release -p cairn -p cairn-test-apiserver
cargo build -q --release -p cairn-collector --target x86_64-unknown-linux-musl
collector=$top/target/x86_64-unknown-linux-musl/release/cairn-collector
kubectl=${CAIRN_KUBECTL:-$top/tests/.work/py/bin/kubectl}
[ -x "$kubectl" ] || kubectl=$(command -v kubectl)
work=$(mktemp -d)
id=
cleanup() {
  if [ -n "${server:-}" ]; then kill "$server" 2>/dev/null || true; fi
  if [ -n "$id" ]; then docker rm -f "$id" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=bench/busybox-image.sh
. "$top/bench/busybox-image.sh"
img=$(busybox_image "$work")
ns=bench-k8s-$$
# Prints LOG_MB MiB, fails once, prints them again after its restart and stays up.
# shellcheck disable=SC2016  # expanded in the container
id=$(docker run -d --restart on-failure:3 --label io.kubernetes.pod.namespace=$ns \
  --label io.kubernetes.pod.name=one --label io.kubernetes.container.name=main \
  --label cairn.test/service-account=shop-sa --label app=web "$img" sh -c \
  "yes 'cairn evidence benchmark line: GET /api/orders 200 0123456789abcdef' | head -c $((log_mb << 20)); \
   if [ -f /tmp/ran ]; then exec sleep 3600; fi; touch /tmp/ran; exit 1")
for _ in $(seq 300); do
  [ "$(docker inspect -f '{{.RestartCount}} {{.State.Running}}' "$id")" = "1 true" ] && break
  sleep 0.1
done

objects=$work/objects; mkdir -p "$objects"
cat >"$objects/sa.json" <<JSON
{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"shop-sa","namespace":"$ns"}}
JSON
cat >"$objects/role.json" <<JSON
{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"reader","namespace":"$ns"},
 "rules":[{"apiGroups":[""],"resources":["secrets"],"verbs":["get"]}]}
JSON
cat >"$objects/rb.json" <<JSON
{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"reads","namespace":"$ns"},
 "subjects":[{"kind":"ServiceAccount","name":"shop-sa","namespace":"$ns"}],
 "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"reader"}}
JSON
cat >"$objects/np.json" <<JSON
{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"web","namespace":"$ns"},
 "spec":{"podSelector":{"matchLabels":{"app":"web"}}}}
JSON

"$top/target/release/cairn-test-apiserver" --kubeconfig-out "$work/kc" --objects "$objects" 2>"$work/server.log" &
server=$!
for _ in $(seq 100); do [ -f "$work/kc" ] && break; sleep 0.1; done
k() { "$kubectl" --kubeconfig "$work/kc" -n "$ns" "$@"; }
now() { date +%s.%N; }
node=$(k get pod one -o jsonpath='{.spec.nodeName}')

: >"$work/cairn.txt"; : >"$work/manual.txt"; : >"$work/rss.txt"
for i in $(seq "$runs"); do
  /usr/bin/time -o "$work/rss-with" -f '%M' "$top/target/release/cairn" --kubeconfig "$work/kc" -n "$ns" \
    collect one --progress none --collector-bin "$collector" --output-dir "$work/out$i" -o json >"$work/r$i.json"
  /usr/bin/time -o "$work/rss-without" -f '%M' "$top/target/release/cairn" --kubeconfig "$work/kc" -n "$ns" \
    collect one --progress none --no-k8s-evidence --collector-bin "$collector" --output-dir "$work/bare$i" -o json >/dev/null
  echo "$(tail -1 "$work/rss-with") $(tail -1 "$work/rss-without")" >>"$work/rss.txt"
  python3 -c 'import json,sys; k=json.load(open(sys.argv[1]))[0]["k8s_evidence"]; print(k["ms"]/1000, k["bytes"])' \
    "$work/r$i.json" >>"$work/cairn.txt"
  "$collector" verify "$work"/out"$i"/*.k8s.tar.zst >/dev/null
  d=$work/manual$i; mkdir -p "$d"
  t=$(now)
  k logs one --timestamps >"$d/main.log"
  k logs one --previous --timestamps >"$d/main.previous.log"
  k get pod one -o json >"$d/pod.json"
  k get events --field-selector involvedObject.name=one -o json >"$d/events.json"
  k get node "$node" -o json >"$d/node.json"
  k get serviceaccount shop-sa -o json >"$d/serviceaccount.json"
  k get rolebindings -o json >"$d/rolebindings.json"
  k get clusterrolebindings -o json >"$d/clusterrolebindings.json"
  k get role reader -o json >"$d/role.json"
  k get networkpolicies -o json >"$d/networkpolicies.json"
  tar -C "$d" -cf - . | zstd -3 -q -c | sha256sum >/dev/null
  echo "$(now) - $t" | bc >>"$work/manual.txt"
  grep -q 'GET /api/orders' "$d/main.previous.log"
done

python3 - "$work" "$log_mb" <<'PY'
import statistics as st, sys
w, mb = sys.argv[1], sys.argv[2]
cairn = [list(map(float, l.split())) for l in open(f"{w}/cairn.txt")]
manual = [float(l) for l in open(f"{w}/manual.txt")]
rss = [list(map(int, l.split())) for l in open(f"{w}/rss.txt")]
c, m = st.median(r[0] for r in cairn), st.median(manual)
print(f"pod with two runs of {mb} MiB of logs each; {len(cairn)} runs")
print(f"cairn's Kubernetes evidence (read, archived, hashed): median {c:.2f} s, archive {st.median(r[1] for r in cairn) / 2**20:.1f} MiB")
print(f"kubectl logs x2 + 8 kubectl get + tar | zstd -3 | sha256sum: median {m:.2f} s")
print(f"ratio cairn/manual: {c / m:.2f}")
with_, without = st.median(r[0] for r in rss), st.median(r[1] for r in rss)
print(f"launcher peak RSS: {with_ / 1024:.1f} MiB with the evidence, {without / 1024:.1f} MiB without (medians)")
PY
