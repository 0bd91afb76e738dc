#!/usr/bin/env bash
# Seeds the fuzz corpora with real metadata from this machine's Docker and containerd
# (valid bbolt files get past the meta-page checksum, so mutations reach the pages),
# then runs each target for SECONDS (default 300). Needs nightly and cargo-fuzz
# (`cargo install cargo-fuzz`). Usage: collector/fuzz/seed.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-300}
mkdir -p corpus/bolt corpus/node_metadata
meta=/var/lib/containerd/io.containerd.metadata.v1.bolt/meta.db
snap=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/metadata.db
[ -f "$meta" ] && cp "$meta" corpus/bolt/meta.db
[ -f "$snap" ] && cp "$snap" corpus/bolt/snapshots.db
if [ -f "$meta" ] && [ -f "$snap" ]; then
  { printf '\0'; cat "$meta"; printf '\377\0\377'; cat "$snap"; } >corpus/node_metadata/containerd
fi
for c in /var/lib/docker/containers/*/; do
  id=$(basename "$c")
  m=/var/lib/docker/image/overlay2/layerdb/mounts/$id/mount-id
  if [ ! -f "$c/config.v2.json" ] || [ ! -f "$m" ]; then continue; fi
  mount=$(cat "$m")
  { printf '\1'; cat "$c/config.v2.json"; printf '\377\0\377'; cat "$m"; printf '\377\0\377'; cat "/var/lib/docker/overlay2/$mount/lower" 2>/dev/null || true; } \
    >"corpus/node_metadata/docker-$id"
done
for t in bolt node_metadata; do
  cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -max_len=4194304 2>&1 | tail -5
done
