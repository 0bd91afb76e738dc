#!/usr/bin/env bash
# Builds the static collector for both architectures cairn delivers: x86_64 and aarch64
# (EKS Graviton, AKS and GKE arm64 node pools), musl, statically linked, each checked
# (no program interpreter, no shared libraries) and copied to target/collectors/ as
# cairn-collector-x86_64 and cairn-collector-aarch64, with their sizes and sha256.
# aarch64 is cross-built on x86_64 with Debian's cross C compiler (.cargo/config.toml).
#
# Needs: rustup targets x86_64-unknown-linux-musl and aarch64-unknown-linux-musl, and the
# Debian packages musl-tools, gcc-aarch64-linux-gnu and libc6-dev-arm64-cross (the cross
# compiler only recommends its C headers). --install-deps adds what is missing.
#
# Usage: scripts/build-collectors.sh [--install-deps]
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(musl-tools gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
if [ "${1:-}" = --install-deps ]; then
  missing=()
  for p in "${packages[@]}"; do
    [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" = "ii " ] || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  rustup target add x86_64-unknown-linux-musl aarch64-unknown-linux-musl >/dev/null
fi
fail() {
  echo "build-collectors.sh: $1: apt-get install --no-install-recommends ${packages[*]} (or run with --install-deps)" >&2
  exit 2
}
for tool in musl-gcc aarch64-linux-gnu-gcc; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is missing"
done
# ring and zstd-sys compile C for aarch64: without libc6-dev-arm64-cross the cross compiler
# finds the host's headers and fails minutes into the build; this says so at once.
echo '#include <stdint.h>' | aarch64-linux-gnu-gcc -x c -fsyntax-only - 2>/dev/null ||
  fail "aarch64-linux-gnu-gcc cannot compile <stdint.h> (libc6-dev-arm64-cross is missing)"
mkdir -p target/collectors
for arch in x86_64 aarch64; do
  rustup target list --installed | grep -qx "$arch-unknown-linux-musl" || {
    echo "build-collectors.sh: rustup target $arch-unknown-linux-musl is missing: rustup target add $arch-unknown-linux-musl (or run with --install-deps)" >&2
    exit 2
  }
done
# One cargo run for both: their single-threaded link-time optimisations overlap.
cargo build --release -q -p cairn-collector --target x86_64-unknown-linux-musl --target aarch64-unknown-linux-musl
for arch in x86_64 aarch64; do
  target=$arch-unknown-linux-musl
  bin=target/$target/release/cairn-collector
  # A static executable has no program interpreter and needs no shared library.
  if readelf -lW "$bin" | grep -q 'Requesting program interpreter' || readelf -d "$bin" | grep -q NEEDED; then
    echo "build-collectors.sh: $bin is not static" >&2
    exit 1
  fi
  cp "$bin" "target/collectors/cairn-collector-$arch"
  printf '%-8s %9s bytes  sha256 %s  target/collectors/cairn-collector-%s\n' \
    "$arch" "$(stat -c %s "$bin")" "$(sha256sum "$bin" | cut -d' ' -f1)" "$arch"
done
