#!/usr/bin/env bash
# The release: one `cairn` that carries the static collector for x86_64 and aarch64
# inside it, so a responder downloads one file. Builds both collectors
# (scripts/build-collectors.sh), then cairn with them built in, and writes dist/:
# cairn, the two collectors beside it (for --collector-url and the image), and
# SHA256SUMS. `dist/cairn version` lists the embedded collectors and their sha256.
#
# Usage: scripts/dist.sh [--install]   (--install: see build-collectors.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-collectors.sh "$@"
CAIRN_EMBED_COLLECTORS=$PWD/target/collectors cargo build --release -q -p cairn
rm -rf dist && mkdir -p dist
cp target/release/cairn target/collectors/cairn-collector-x86_64 target/collectors/cairn-collector-aarch64 dist/
(cd dist && sha256sum cairn cairn-collector-x86_64 cairn-collector-aarch64 >SHA256SUMS)
dist/cairn version
ls -l dist
