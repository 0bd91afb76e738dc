#!/usr/bin/env bash
# Builds a static cairn (musl, x86_64) with both static collectors inside, for the
# launcher image that runs a sweep in the cluster (scripts/build-image.sh --launcher,
# deploy/sweep-job.yaml): target/launcher/cairn-x86_64, checked to need no program
# interpreter. Needs what scripts/build-collectors.sh needs (it runs first).
#
# Usage: scripts/build-launcher.sh [--install-deps]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-collectors.sh "$@" >/dev/null
CAIRN_EMBED_COLLECTORS=$PWD/target/collectors cargo build --release -q -p cairn --target x86_64-unknown-linux-musl
bin=target/x86_64-unknown-linux-musl/release/cairn
if readelf -lW "$bin" | grep -q 'Requesting program interpreter'; then
  echo "build-launcher.sh: $bin is dynamically linked" >&2
  exit 1
fi
mkdir -p target/launcher
cp "$bin" target/launcher/cairn-x86_64
printf '%9s bytes  sha256 %s  target/launcher/cairn-x86_64\n' \
  "$(stat -c %s target/launcher/cairn-x86_64)" "$(sha256sum target/launcher/cairn-x86_64 | cut -d' ' -f1)"
