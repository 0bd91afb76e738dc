#!/usr/bin/env bash
# Launcher benchmark: `cairn collect` of one small busybox pod through the test API
# server, from start to verified archive, split into the launcher's own overhead
# (process start, API round trips, permission check, exec upgrade, binary delivery,
# archive check) and the collection; against the obvious manual alternative in the same
# run (`kubectl exec -i` that receives the collector with cat, runs it, removes it); then
# 50 pods with --concurrency 10 against 4x one pod's time. Medians of RUNS runs.
# Needs Docker and kubectl (tests/run-all.sh installs both). Usage: bench/launcher.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
top=$PWD
cargo build -q --release -p cairn -p cairn-test-apiserver
cargo build -q --release -p cairn-collector --target x86_64-unknown-linux-musl
collector=$top/target/x86_64-unknown-linux-musl/release/cairn-collector
kubectl=${CAIRN_KUBECTL:-$top/tests/.work/py/bin/kubectl}
[ -x "$kubectl" ] || kubectl=$(command -v kubectl)
work=$(mktemp -d)
ids=()
cleanup() {
  if [ -n "${server:-}" ]; then kill "$server" 2>/dev/null || true; fi
  if [ ${#ids[@]} -gt 0 ]; then docker rm -f "${ids[@]}" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=bench/busybox-image.sh
. "$top/bench/busybox-image.sh"
img=$(busybox_image "$work")
ns=bench-$$
pod() { docker run -d --label io.kubernetes.pod.namespace=$ns --label "io.kubernetes.pod.name=$1" \
          --label io.kubernetes.container.name=main --label "app=$2" "$img" sleep 3600; }
ids+=("$(pod one single)")
for i in $(seq 50); do ids+=("$(pod "fleet-$i" fleet)"); done

"$top/target/release/cairn-test-apiserver" --kubeconfig-out "$work/kc" 2>"$work/server.log" &
server=$!
for _ in $(seq 100); do [ -f "$work/kc" ] && break; sleep 0.1; done
cairn() { "$top/target/release/cairn" --kubeconfig "$work/kc" -n "$ns" "$@"; }
now() { date +%s.%N; }

: >"$work/one.txt"; : >"$work/manual.txt"
for i in $(seq "$runs"); do
  t=$(now)
  cairn collect one --progress none --collector-bin "$collector" --output-dir "$work/out$i" -o json >"$work/one$i.json"
  wall=$(echo "$(now) - $t" | bc)
  "$collector" verify "$work"/out"$i"/*.tar.zst >/dev/null
  python3 - "$work/one$i.json" "$wall" >>"$work/one.txt" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))[0]; p = r["phases"]; wall = float(sys.argv[2])
print(wall, p["exec_open_ms"] / 1000, p["delivery_ms"] / 1000, p["collection_ms"] / 1000)
PY
  t=$(now)
  # shellcheck disable=SC2016  # expanded in the pod, not here
  "$kubectl" --kubeconfig "$work/kc" -n "$ns" exec -i one -- sh -c \
    'cat >/tmp/c && chmod +x /tmp/c && /tmp/c collect --output - --progress none; rc=$?; rm -f /tmp/c; exit $rc' \
    <"$collector" >"$work/manual$i.tar.zst"
  echo "$(now) - $t" | bc >>"$work/manual.txt"
  "$collector" verify "$work/manual$i.tar.zst" >/dev/null
done

: >"$work/fleet.txt"
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
busy() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
dockerd_pid=$(pgrep -o -x dockerd || echo "$server")
s0=$(ticks "$server"); d0=$(ticks "$dockerd_pid"); a0=$(busy)
for i in $(seq 3); do
  t=$(now)
  /usr/bin/time -a -o "$work/cairn-cpu.txt" -f "%U %S" \
    "$top/target/release/cairn" --kubeconfig "$work/kc" -n "$ns" -l app=fleet collect --progress none --concurrency 10 \
    --collector-bin "$collector" --output-dir "$work/fleet$i" -o json >"$work/fleet$i.json"
  echo "$(now) - $t" | bc >>"$work/fleet.txt"
  [ "$(find "$work/fleet$i" -name '*.tar.zst' | wc -l)" = 50 ] || { echo "fleet run $i: not 50 archives" >&2; exit 1; }
done
echo "$(( $(ticks "$server") - s0 )) $(( $(ticks "$dockerd_pid") - d0 )) $(( $(busy) - a0 )) $(getconf CLK_TCK)" >"$work/ticks.txt"

python3 - "$work" <<'PY'
import statistics as st, sys
w = sys.argv[1]
one = [list(map(float, l.split())) for l in open(f"{w}/one.txt")]
manual = [float(l) for l in open(f"{w}/manual.txt")]
fleet = [float(l) for l in open(f"{w}/fleet.txt")]
m = lambda i: st.median(r[i] for r in one)
wall, exec_open, delivery, coll = m(0), m(1), m(2), m(3)
overhead = st.median(r[0] - r[3] for r in one)
print(f"one pod, cairn collect to verified archive: median {wall:.2f} s over {len(one)} runs")
print(f"  exec stream opened: {exec_open:.3f} s (from the exec call); binary delivered and checked: {delivery:.3f} s; collection and transfer: {coll:.3f} s")
print(f"  launcher overhead (wall minus collection): {overhead:.2f} s (target < 2 s)")
print(f"manual kubectl exec -i, cat, run, rm: median {st.median(manual):.2f} s; ratio cairn/manual {wall / st.median(manual):.2f}")
print(f"50 pods, --concurrency 10: median {st.median(fleet):.2f} s = {st.median(fleet) / wall:.1f}x one pod (target < 4x)")
import json
ph = [r["phases"] for i in (1, 2, 3) for r in json.load(open(f"{w}/fleet{i}.json"))]
for k in ("exec_open_ms", "delivery_ms", "collection_ms"):
    print(f"  per pod in the fleet, median {k}: {st.median(p[k] for p in ph) / 1000:.3f} s")
srv, dock, total, hz = map(int, open(f"{w}/ticks.txt").read().split())
launcher = sum(sum(map(float, l.split())) for l in open(f"{w}/cairn-cpu.txt") if l[0].isdigit())
n = 3 * 50
print(f"  CPU per pod in the fleet runs: all processes {total / hz / n:.3f} s, of which cairn {launcher / n:.3f} s,"
      f" the test API server {srv / hz / n:.3f} s, dockerd {dock / hz / n:.3f} s;"
      f" {total / hz / sum(fleet):.2f} of the 2 cores busy")
PY
