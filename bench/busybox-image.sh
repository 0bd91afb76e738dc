# shellcheck shell=bash
# Sourced by benchmarks: busybox_image WORKDIR prints the name of a busybox image built
# from this machine's /bin/busybox (no registry is reachable), building it once.
busybox_image() {
  local img=cairn-bench-launcher-busybox:1 r="$1/busybox-root"
  if ! docker image inspect "$img" >/dev/null 2>&1; then
    mkdir -p "$r"/{bin,etc,tmp,proc,sys,dev}; chmod 1777 "$r/tmp"
    cp /bin/busybox "$r/bin/"; chroot "$r" /bin/busybox --install -s /bin
    echo 'root:x:0:0::/root:/bin/sh' >"$r/etc/passwd"
    tar -C "$r" --numeric-owner -cf "$1/busybox.tar" . && docker import -c 'ENV PATH=/bin' "$1/busybox.tar" "$img" >/dev/null
  fi
  echo "$img"
}
