#!/usr/bin/env bash
# What a release publishes, built from a checkout (Rust and Debian's cross tools;
# --install-deps adds what is missing, see build-collectors.sh), into dist/:
#   cairn                          the launcher for Linux x86_64, with the static
#                                  collectors for x86_64 and aarch64 inside it: the one
#                                  file a responder downloads (`cairn version` lists them)
#   cairn-collector-x86_64         the collectors alone, for --collector-url, manual
#   cairn-collector-aarch64        deployment and `cairn-collector` on a host
#   cairn-collector-VERSION.image.tar   the collector image, both architectures
#                                  (`cairn image` writes the same from cairn alone)
#   cairn-static-x86_64            cairn again, static (musl): what the in-cluster
#                                  sweep's image holds (scripts/build-image.sh
#                                  --launcher, deploy/sweep-job.yaml)
#   SHA256SUMS                     of each, for `sha256sum -c`
#
# Usage: scripts/dist.sh [--install-deps]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-collectors.sh "$@"
CAIRN_EMBED_COLLECTORS=$PWD/target/collectors cargo build --release -q -p cairn
bash scripts/build-launcher.sh
rm -rf dist && mkdir -p dist
cp target/release/cairn target/collectors/cairn-collector-x86_64 target/collectors/cairn-collector-aarch64 dist/
cp target/launcher/cairn-x86_64 dist/cairn-static-x86_64
version=$(awk -F'"' '/^version/ {print $2; exit}' Cargo.toml)
image=cairn-collector-$version.image.tar
dist/cairn image --output "dist/$image" >/dev/null
(cd dist && sha256sum cairn cairn-static-x86_64 cairn-collector-x86_64 cairn-collector-aarch64 "$image" >SHA256SUMS)
dist/cairn version
ls -l dist
