#!/usr/bin/env bash
# Upload throughput and memory: a 500 MiB archive to a local s3s-fs, cairn (collecting,
# compressing and uploading in parts at once) against `curl -T` of the finished archive
# to a presigned PUT, in the same run; plus peak RSS of a 200 MiB Azurite upload.
# Needs the object-store tools tests/run-all.sh installs. Usage: bench/upload.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p cairn-collector
export CAIRN_BIN="$PWD/target/release/cairn-collector"
cargo run -q --release -p cairn-collector --example upload_bench -- "${1:-5}"
