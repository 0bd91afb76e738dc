#!/usr/bin/env bash
# Builds the cairn collector image: FROM scratch, holding only the static collector
# (/cairn-collector, the entrypoint). No registry is needed to build or use it: load it
# into the local Docker engine, into containerd's k8s.io namespace (what the kubelet
# uses), or save it as a tarball for `docker load`, `ctr images import` or
# `skopeo copy docker-archive:FILE docker://YOUR-REGISTRY/cairn-collector:TAG`.
# The launcher's --collector-image names it for ephemeral containers and node jobs.
#
# Usage: scripts/build-image.sh [--bin PATH] [--tag NAME:TAG] [--containerd] [--save FILE]
#   --bin         the static collector (default: the musl release build, built if missing)
#   --tag         image name (default cairn-collector:VERSION)
#   --containerd  also import into containerd, namespace k8s.io
#   --save FILE   also write the image as a docker-archive tarball
set -euo pipefail
cd "$(dirname "$0")/.."
bin="" tag="" to_containerd=0 save=""
while [ $# -gt 0 ]; do
  case $1 in
    --bin) bin=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --containerd) to_containerd=1; shift ;;
    --save) save=$2; shift 2 ;;
    *) echo "build-image.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
if [ -z "$bin" ]; then
  bin=target/x86_64-unknown-linux-musl/release/cairn-collector
  [ -x "$bin" ] || cargo build --release -q -p cairn-collector --target x86_64-unknown-linux-musl
fi
[ -x "$bin" ] || { echo "build-image.sh: $bin is not an executable" >&2; exit 2; }
# ldd lists libraries (`name => path`) only for a dynamic executable.
if ldd "$bin" 2>/dev/null | grep -q '=>'; then
  echo "build-image.sh: $bin is dynamically linked; the image holds nothing else, so it must be static" >&2
  exit 2
fi
version=$("$bin" --version | awk '{print $2}')
tag=${tag:-cairn-collector:$version}
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp "$bin" "$ctx/cairn-collector"
sha=$(sha256sum "$ctx/cairn-collector" | cut -d' ' -f1)
cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY cairn-collector /cairn-collector
LABEL org.opencontainers.image.title="cairn-collector" \\
      org.opencontainers.image.version="$version" \\
      io.cairn.collector.sha256="$sha"
ENTRYPOINT ["/cairn-collector"]
DOCKERFILE
# The classic builder: FROM scratch needs no registry and no BuildKit daemon.
DOCKER_BUILDKIT=0 docker build -q -t "$tag" "$ctx" >/dev/null
echo "built $tag (collector sha256 $sha)"
if [ -n "$save" ]; then
  docker save -o "$save" "$tag"
  echo "saved $save"
fi
if [ "$to_containerd" = 1 ]; then
  docker save -o "$ctx/img.tar" "$tag"
  ctr -n k8s.io images import "$ctx/img.tar" >/dev/null
  case $tag in */*) ref=$tag ;; *) ref=docker.io/library/$tag ;; esac
  echo "imported into containerd (k8s.io) as $ref"
fi
