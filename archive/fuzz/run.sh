#!/usr/bin/env bash
# Runs the archive reader's fuzz targets for SECONDS each (default 120): `reader` on
# arbitrary bytes (seeded with archives the test suite writes, when there are some in
# target/), `roundtrip` on arbitrary names and contents. cargo-fuzz needs nightly
# features; the stable toolchain provides them with RUSTC_BOOTSTRAP=1, so no other
# toolchain is needed. Needs cargo-fuzz (cargo install cargo-fuzz).
# Usage: archive/fuzz/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-120}
mkdir -p corpus/reader corpus/roundtrip
# Seeds: the raw tar streams of a few real archives.
find ../../target -maxdepth 3 -name '*.tar.zst' -size -2M 2>/dev/null | head -20 | while read -r a; do
  zstd -q -d -c "$a" >"corpus/reader/$(basename "$a" .tar.zst).tar" 2>/dev/null || true
done
for t in reader roundtrip; do
  RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=512 -max_len=1048576 2>&1 | tail -4
done
