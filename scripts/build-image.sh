#!/usr/bin/env bash
# Builds the cairn collector image: FROM scratch, holding only the static collector
# (/cairn-collector, the entrypoint), for x86_64 (linux/amd64) and aarch64
# (linux/arm64). No registry is needed to build or use it:
#   - Docker: one image per architecture, TAG for this machine's and TAG-ARCH for each
#     (Docker's own store holds one architecture per tag);
#   - --oci FILE: one OCI image-layout archive whose index holds both architectures,
#     for `ctr images import --all-platforms FILE` or
#     `skopeo copy --all oci-archive:FILE docker://YOUR-REGISTRY/cairn-collector:TAG`
#     (one name that every node pulls its own architecture of);
#   - --containerd: that index imported into containerd's k8s.io namespace (what the
#     kubelet uses), every architecture;
#   - --save FILE: this machine's image as a docker-archive tarball (`docker load`).
# The launcher's --collector-image names it for ephemeral containers and node jobs.
#
# With --launcher, it builds instead the image deploy/sweep-job.yaml runs: FROM scratch,
# holding a static cairn (/cairn, the entrypoint, scripts/build-launcher.sh builds one
# with both collectors inside), run as user 65532; tagged cairn:VERSION unless --tag.
#
# Usage: scripts/build-image.sh [--bin PATH]... [--tag NAME:TAG] [--oci FILE] [--containerd] [--save FILE]
#        scripts/build-image.sh --launcher PATH [--tag NAME:TAG] [--save FILE]
#   --bin         a static collector, once per architecture (default: both, from
#                 scripts/build-collectors.sh, built if missing)
#   --tag         image name (default cairn-collector:VERSION)
set -euo pipefail
cd "$(dirname "$0")/.."
bins=() tag="" to_containerd=0 save="" oci="" launcher=""
while [ $# -gt 0 ]; do
  case $1 in
    --bin) bins+=("$2"); shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --containerd) to_containerd=1; shift ;;
    --save) save=$2; shift 2 ;;
    --oci) oci=$2; shift 2 ;;
    --launcher) launcher=$2; shift 2 ;;
    *) echo "build-image.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
if [ -z "$launcher" ] && [ ${#bins[@]} -eq 0 ]; then
  if [ ! -x target/collectors/cairn-collector-x86_64 ] || [ ! -x target/collectors/cairn-collector-aarch64 ]; then
    bash scripts/build-collectors.sh >/dev/null
  fi
  bins=(target/collectors/cairn-collector-x86_64 target/collectors/cairn-collector-aarch64)
fi

# The OCI architecture of a static collector, from its ELF header.
arch_of() {
  local bin=$1
  [ -x "$bin" ] || { echo "build-image.sh: $bin is not an executable" >&2; exit 2; }
  if readelf -lW "$bin" 2>/dev/null | grep -q 'Requesting program interpreter'; then
    echo "build-image.sh: $bin is dynamically linked; the image holds nothing else, so it must be static (scripts/build-collectors.sh)" >&2
    exit 2
  fi
  case $(readelf -h "$bin" 2>/dev/null | awk -F: '/Machine:/ {gsub(/^ +/, "", $2); print $2}') in
    *X86-64*) echo amd64 ;;
    AArch64) echo arm64 ;;
    *) echo "build-image.sh: $bin is not an x86_64 or aarch64 ELF executable" >&2; exit 2 ;;
  esac
}

version=$(awk -F'"' '/^version/ {print $2; exit}' Cargo.toml)

# The launcher image: one architecture (the binary's), Docker only.
if [ -n "$launcher" ]; then
  if [ ${#bins[@]} -gt 0 ] || [ -n "$oci" ] || [ "$to_containerd" = 1 ]; then
    echo "build-image.sh: --launcher builds the launcher image alone (with --tag and --save only)" >&2
    exit 2
  fi
  arch=$(arch_of "$launcher")
  tag=${tag:-cairn:$version}
  ctx=$(mktemp -d)
  trap 'rm -rf "$ctx"' EXIT
  cp "$launcher" "$ctx/cairn"
  sha=$(sha256sum "$ctx/cairn" | cut -d' ' -f1)
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY cairn /cairn
USER 65532:65532
LABEL org.opencontainers.image.title="cairn" \\
      org.opencontainers.image.version="$version" \\
      io.cairn.launcher.sha256="$sha"
ENTRYPOINT ["/cairn"]
DOCKERFILE
  if ! DOCKER_BUILDKIT=0 docker build -q --platform "linux/$arch" -t "$tag" "$ctx" >/dev/null 2>"$ctx/build.log"; then
    cat "$ctx/build.log" >&2
    exit 1
  fi
  echo "built $tag ($arch, cairn sha256 $sha)"
  if [ -n "$save" ]; then
    docker save -o "$save" "$tag"
    echo "saved $save (docker-archive, $arch)"
  fi
  exit 0
fi

archs=()
for b in "${bins[@]}"; do archs+=("$(arch_of "$b")"); done
native=$(docker info -f '{{.Architecture}}' 2>/dev/null || uname -m)
case $native in x86_64) native=amd64 ;; aarch64) native=arm64 ;; esac
tag=${tag:-cairn-collector:$version}
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT

# Docker: one image per architecture; TAG is this machine's, or the only one given.
for i in "${!bins[@]}"; do
  arch=${archs[$i]}
  mkdir -p "$ctx/$arch"
  cp "${bins[$i]}" "$ctx/$arch/cairn-collector"
  sha=$(sha256sum "$ctx/$arch/cairn-collector" | cut -d' ' -f1)
  cat >"$ctx/$arch/Dockerfile" <<DOCKERFILE
FROM scratch
COPY cairn-collector /cairn-collector
LABEL org.opencontainers.image.title="cairn-collector" \\
      org.opencontainers.image.version="$version" \\
      io.cairn.collector.sha256="$sha"
ENTRYPOINT ["/cairn-collector"]
DOCKERFILE
  # The classic builder: FROM scratch needs no registry and no BuildKit daemon.
  if ! DOCKER_BUILDKIT=0 docker build -q --platform "linux/$arch" -t "$tag-$arch" "$ctx/$arch" >/dev/null 2>"$ctx/build.log"; then
    cat "$ctx/build.log" >&2
    exit 1
  fi
  if [ "$arch" = "$native" ] || [ ${#bins[@]} -eq 1 ]; then
    docker tag "$tag-$arch" "$tag"
  fi
  if [ ${#bins[@]} -eq 1 ]; then docker rmi "$tag-$arch" >/dev/null; fi
  echo "built $tag${arch:+ ($arch)} (collector sha256 $sha)"
done

if [ -n "$save" ]; then
  docker save -o "$save" "$tag"
  echo "saved $save (docker-archive, $native)"
fi

# The OCI image layout: an index of one manifest per architecture, each with one
# uncompressed layer holding /cairn-collector, written here without a registry.
if [ -n "$oci" ] || [ "$to_containerd" = 1 ]; then
  out=${oci:-$ctx/image.oci.tar}
  args=()
  for i in "${!bins[@]}"; do args+=("${archs[$i]}=${bins[$i]}"); done
  python3 - "$out" "$tag" "$version" "${args[@]}" <<'PY'
import hashlib, io, json, os, sys, tarfile
out, tag, version, pairs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
blobs = {}
def blob(data, media):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    blobs[d] = data
    return {"mediaType": media, "digest": d, "size": len(data)}
manifests = []
for pair in pairs:
    arch, path = pair.split("=", 1)
    data = open(path, "rb").read()
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w", format=tarfile.PAX_FORMAT) as t:
        info = tarfile.TarInfo("cairn-collector")
        info.size, info.mode, info.mtime, info.uid, info.gid = len(data), 0o755, 0, 0, 0
        t.addfile(info, io.BytesIO(data))
    layer = layer.getvalue()
    sha = hashlib.sha256(data).hexdigest()
    config = json.dumps({
        "architecture": arch, "os": "linux",
        "config": {"Entrypoint": ["/cairn-collector"], "Labels": {
            "org.opencontainers.image.title": "cairn-collector",
            "org.opencontainers.image.version": version,
            "io.cairn.collector.sha256": sha}},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]},
    }, sort_keys=True).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": blob(config, "application/vnd.oci.image.config.v1+json"),
        "layers": [blob(layer, "application/vnd.oci.image.layer.v1.tar")],
    }, sort_keys=True).encode()
    d = blob(manifest, "application/vnd.oci.image.manifest.v1+json")
    d["platform"] = {"architecture": arch, "os": "linux"}
    manifests.append(d)
index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                    "manifests": manifests}, sort_keys=True).encode()
top = blob(index, "application/vnd.oci.image.index.v1+json")
name = tag if "/" in tag else "docker.io/library/" + tag
top["annotations"] = {"io.containerd.image.name": name,
                      "org.opencontainers.image.ref.name": tag.rsplit(":", 1)[-1]}
with tarfile.open(out, "w") as t:
    def add(path, data):
        info = tarfile.TarInfo(path)
        info.size, info.mode, info.mtime = len(data), 0o644, 0
        t.addfile(info, io.BytesIO(data))
    add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    add("index.json", json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                                  "manifests": [top]}).encode())
    for d, data in sorted(blobs.items()):
        add("blobs/sha256/" + d.split(":", 1)[1], data)
PY
  [ -n "$oci" ] && echo "wrote $oci (OCI index: ${archs[*]})"
  if [ "$to_containerd" = 1 ]; then
    ctr -n k8s.io images import --all-platforms "$out" >/dev/null
    case $tag in */*) ref=$tag ;; *) ref=docker.io/library/$tag ;; esac
    echo "imported into containerd (k8s.io) as $ref (${archs[*]})"
  fi
fi
