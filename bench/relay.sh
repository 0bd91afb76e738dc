#!/usr/bin/env bash
# Relay benchmark: what it costs to keep a container SAS out of the pod. One busybox pod
# holding 96 MiB of incompressible log is collected through the test API server into
# Azurite three ways, RUNS times each, in the same run:
#   direct  --azure URL (a per-blob SAS the launcher signs; the pod uploads)
#   relay   --azure-sas CONTAINER_SAS (the archive comes back over exec; cairn uploads)
#   local   --output-dir (the archive comes back over exec; no upload): the transfer alone
# Prints medians, the relay/direct ratio and cairn's peak RSS per way.
# Needs Docker and Azurite (tests/run-all.sh installs both). Usage: bench/relay.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
top=$PWD
cargo build -q --release -p cairn -p cairn-test-apiserver
cargo build -q --release -p cairn-collector --target x86_64-unknown-linux-musl
collector=$top/target/x86_64-unknown-linux-musl/release/cairn-collector
azurite=${CAIRN_AZURITE:-$top/tests/.work/node/node_modules/.bin/azurite-blob}
[ -x "$azurite" ] || { echo "no azurite-blob at $azurite (run tests/run-all.sh once)" >&2; exit 1; }
work=$(mktemp -d)
ids=() pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ ${#ids[@]} -gt 0 ]; then docker rm -f "${ids[@]}" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

img=cairn-bench-launcher-busybox:1
if ! docker image inspect "$img" >/dev/null 2>&1; then
  r=$work/root; mkdir -p "$r"/{bin,etc,tmp,proc,sys,dev}; chmod 1777 "$r/tmp"
  cp /bin/busybox "$r/bin/"; chroot "$r" /bin/busybox --install -s /bin
  echo 'root:x:0:0::/root:/bin/sh' >"$r/etc/passwd"
  tar -C "$r" --numeric-owner -cf "$work/img.tar" . && docker import -c 'ENV PATH=/bin' "$work/img.tar" "$img" >/dev/null
fi
ns=relay-$$
ids+=("$(docker run -d --label io.kubernetes.pod.namespace=$ns --label io.kubernetes.pod.name=web \
  --label io.kubernetes.container.name=main "$img" sleep 3600)")
docker exec "${ids[0]}" sh -c 'mkdir -p /var/log && head -c 100663296 /dev/urandom > /var/log/big.log'

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("0.0.0.0",0)); print(s.getsockname()[1])')
"$azurite" --blobHost 0.0.0.0 --blobPort "$port" -l "$work/azurite" --skipApiVersionCheck >"$work/azurite.log" 2>&1 &
pids+=($!)
"$top/target/release/cairn-test-apiserver" --kubeconfig-out "$work/kc" 2>"$work/server.log" &
pids+=($!)
for _ in $(seq 100); do [ -f "$work/kc" ] && break; sleep 0.1; done
gw=$(docker network inspect bridge -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}')
[ -n "$gw" ] || gw=$(ip -4 -o addr show dev docker0 | awk '{print $4}' | cut -d/ -f1)
key='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
acct=devstoreaccount1
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
# The container, and a container SAS for the relay (signed as Azure documents it).
sas=$(python3 - "$port" "$key" <<'PY'
import base64, datetime, hashlib, hmac, sys, urllib.parse, urllib.request
port, key = sys.argv[1], base64.b64decode(sys.argv[2])
acct, sv = "devstoreaccount1", "2021-08-06"
now = datetime.datetime.now(datetime.timezone.utc)
def sign(sts):
    return urllib.parse.quote(base64.b64encode(hmac.new(key, sts.encode(), hashlib.sha256).digest()).decode(), safe="")
se = (now + datetime.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
account = f"sv={sv}&ss=b&srt=sco&sp=rwdlac&se={urllib.parse.quote(se)}&sig=" + sign(f"{acct}\nrwdlac\nb\nsco\n\n{se}\n\n\n{sv}\n\n")
req = urllib.request.Request(f"http://127.0.0.1:{port}/{acct}/evidence?restype=container&{account}", method="PUT",
                             headers={"x-ms-version": sv, "Content-Length": "0"})
urllib.request.urlopen(req).read()
se = (now + datetime.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
sig = sign(f"cw\n\n{se}\n/blob/{acct}/evidence\n\n\n\n{sv}\nc\n\n\n\n\n\n\n")
print(f"http://127.0.0.1:{port}/{acct}/evidence?sv={sv}&sr=c&sp=cw&se={urllib.parse.quote(se)}&sig={sig}")
PY
)
cairn() { /usr/bin/time -a -o "$work/$1.rss" -f "%M" "$top/target/release/cairn" --kubeconfig "$work/kc" -n "$ns" \
  collect web --progress none --collector-bin "$collector" -o json "${@:2}" >"$work/$1.json"; }
now() { date +%s.%N; }
for i in $(seq "$runs"); do
  t=$(now); AZURE_STORAGE_KEY=$key cairn direct --azure "http://$gw:$port/$acct/evidence/direct$i"
  echo "$(now) - $t" | bc >>"$work/direct.txt"
  t=$(now); cairn relay --azure-sas "$sas" --relay-dir "$work"
  echo "$(now) - $t" | bc >>"$work/relay.txt"
  t=$(now); cairn local --output-dir "$work/out$i"
  echo "$(now) - $t" | bc >>"$work/local.txt"
  "$collector" verify "$work"/out"$i"/*.tar.zst >/dev/null
done
python3 - "$work" <<'PY'
import json, statistics as st, sys
w = sys.argv[1]
med = lambda n: st.median(float(l) for l in open(f"{w}/{n}.txt"))
rss = lambda n: max(int(l) for l in open(f"{w}/{n}.rss") if l.strip().isdigit()) / 1024
size = json.load(open(f"{w}/relay.json"))[0]["bytes"]
d, r, l = med("direct"), med("relay"), med("local")
print(f"archive {size / 2**20:.1f} MiB; medians of {sum(1 for _ in open(f'{w}/direct.txt'))} runs")
print(f"  direct (--azure, the pod uploads):         {d:.2f} s, cairn peak RSS {rss('direct'):.1f} MiB")
print(f"  relay  (--azure-sas, cairn uploads):       {r:.2f} s, cairn peak RSS {rss('relay'):.1f} MiB")
print(f"  local  (--output-dir, transfer only):      {l:.2f} s, cairn peak RSS {rss('local'):.1f} MiB")
print(f"  relay/direct {r / d:.2f}; relay minus local (the launcher's upload) {r - l:.2f} s")
PY
