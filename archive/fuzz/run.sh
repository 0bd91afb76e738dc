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
# Seeds: tar streams GNU tar writes (POSIX/PAX and GNU formats; long, non-UTF-8 and
# newline names, a symlink), so mutations start past the header checksum.
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
mkdir -p "$seeds/t/$(printf 'd%.0s' $(seq 120))"
printf 'hello' >"$seeds/t/a"
printf 'x' >"$seeds/t/$(printf 'n\nsize=0')"
printf 'y' >"$seeds/t/$(printf 'bad\377name')"
printf 'z' >"$seeds/t/$(printf 'd%.0s' $(seq 120))/long"
ln -sf "$(printf 't%.0s' $(seq 150))" "$seeds/t/link"
for f in posix gnu ustar; do
  tar --format=$f -C "$seeds" -cf "corpus/reader/seed-$f.tar" t 2>/dev/null || true
done
for t in reader roundtrip; do
  echo "== $t"
  RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=512 -max_len=1048576 2>&1 | tail -4
done
