# cairn bootstrap: receives the collector, checks its sha256, runs it, removes it.
#
# POSIX sh; runs under bash, dash and busybox ash. The launcher passes it as the script
# of `sh -c` (so nothing but the collector itself is written on the target), through
# pods/exec, a sidecar or any agent that can run a command:
#
#   sh -c "$(cat bootstrap.sh)" cairn-bootstrap stdin SIZE SHA256 [OPTIONS] -- COLLECTOR ARGS...
#   sh -c "$(cat bootstrap.sh)" cairn-bootstrap url   URL  SHA256 [OPTIONS] -- COLLECTOR ARGS...
#
# OPTIONS: plan N, watch, arch ARCH, memory.
#
# stdin: the next SIZE bytes of stdin are the collector (exactly SIZE are read, so
#   stdin can stay open and the archive can come back on stdout). url: downloaded with
#   curl, wget or busybox wget.
# plan N: the next N bytes of stdin (after the binary) are an upload plan and/or YARA
#   rules; the collector gets them as its stdin (for --upload-plan -, --yara -) from a
#   shell variable, so presigned URLs and rules never touch the disk or a process's
#   arguments.
# watch: the rest of stdin is the session. The caller keeps it open while it is
#   attached; when it ends (the launcher was cancelled or lost its connection), the
#   collector is stopped and removed. Container runtimes keep an exec's process running
#   after its client goes, so without this a cancelled collection would run to its end.
#   The collector then gets no stdin.
# arch ARCH: the collector is built for ARCH (x86_64, aarch64); on a system whose
#   `uname -m` says otherwise it is refused before anything is written.
# memory: write nothing to the container's disk: only memory-backed places (tmpfs,
#   ramfs) are used, and without one that allows execution the bootstrap stops (95).
# The collector goes into the first place where a file can be written and executed,
# memory first: /dev (a tmpfs without noexec under Docker and containerd, writable by
# root), /dev/shm (memory, but usually noexec), then /tmp, /var/tmp, $HOME and the
# working directory, which are usually the container's disk. A read-only or noexec
# mount is skipped. It runs only if its sha256 matches, and is removed when it ends,
# fails, or the bootstrap is interrupted (INT, TERM, HUP, PIPE).
#
# Messages go to stderr, prefixed `cairn-bootstrap:`. Exit status: the collector's own,
# or 90 no place allows execution, 91 sha256 mismatch, 92 no tool to fetch or hash,
# 93 bad arguments or the binary arrived short, 94 the collector cannot run on this
# system, 95 no memory-backed place allows execution (memory).

me=cairn-bootstrap
say() { printf '%s: %s\n' "$me" "$*" >&2; }
die() { code=$1; shift; say "$*"; exit "$code"; }

watch=0 plan_size='' want_arch='' memory=0
m=$1 s=$2 w=$3
shift 3
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  case $1 in
    watch) watch=1; shift ;;
    memory) memory=1; shift ;;
    arch)
      [ $# -ge 2 ] || die 93 "arch needs a name"
      want_arch=$2; shift 2
      ;;
    plan)
      [ $# -ge 2 ] || die 93 "plan needs a byte count"
      plan_size=$2; shift 2
      case $plan_size in *[!0-9]*|'') die 93 "plan needs a byte count" ;; esac
      ;;
    *) die 93 "unknown option '$1' (plan N, watch, arch ARCH, memory)" ;;
  esac
done
set -- "$m" "$s" "$w" "$@"
if [ $# -lt 4 ] || [ "$4" != "--" ]; then
  die 93 "usage: $me stdin SIZE SHA256 [watch] -- ARGS... | $me url URL SHA256 [watch] -- ARGS..."
fi
mode=$1 src=$2 want=$3
shift 4
case $want in
  *[!0-9a-f]*|'') die 93 "the expected sha256 must be 64 lowercase hex digits" ;;
esac
[ ${#want} -eq 64 ] || die 93 "the expected sha256 must be 64 lowercase hex digits"

dir='' child='' session='' watcher=''
cleanup() {
  for p in $watcher $session; do kill "$p" 2>/dev/null; done
  # Reaped here: left to a container's PID 1, which often reaps nothing, they would
  # stay as zombies in the evidence of the next collection.
  for p in $watcher $session; do wait "$p" 2>/dev/null; done
  watcher='' session=''
  if [ -n "$dir" ]; then rm -rf "$dir"; fi
  dir=
}
# On a signal: stop the collector, remove it, exit 128+signal.
# shellcheck disable=SC2317  # called from the traps below
stop() {
  if [ -n "$child" ]; then
    kill -TERM "$child" 2>/dev/null
    wait "$child" 2>/dev/null
  fi
  cleanup
  trap - EXIT
  exit "$1"
}
trap cleanup EXIT
trap 'stop 130' INT
trap 'stop 143' TERM
trap 'stop 129' HUP
trap 'stop 141' PIPE

# A private directory under $1, or nothing when $1 is not writable.
private_dir() {
  [ -d "$1" ] && [ -w "$1" ] || return 1
  d=$(umask 077; mktemp -d "$1/.cairn.XXXXXX" 2>/dev/null) || {
    d="$1/.cairn.$$"
    (umask 077; mkdir "$d" 2>/dev/null) || return 1
  }
  printf '%s' "$d"
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  elif command -v busybox >/dev/null 2>&1 && busybox sha256sum "$1" >/dev/null 2>&1; then
    busybox sha256sum "$1" | cut -d' ' -f1
  elif command -v openssl >/dev/null 2>&1; then
    openssl dgst -sha256 -r "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d' ' -f1
  else
    return 1
  fi
}

fetch() { # URL FILE
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 3 -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" "$1"
  elif command -v busybox >/dev/null 2>&1; then
    busybox wget -q -O "$2" "$1"
  else
    say "no curl, wget or busybox wget here: use stdin delivery (the launcher's default)"
    return 92
  fi
}

# The system's architecture first: a collector for another one is refused before
# anything is written.
if [ -n "$want_arch" ] && command -v uname >/dev/null 2>&1; then
  here=$(uname -m 2>/dev/null)
  case $here in
    arm64) here=aarch64 ;;
    amd64) here=x86_64 ;;
  esac
  if [ -n "$here" ] && [ "$here" != "$want_arch" ]; then
    die 94 "this container runs on $here, and the collector sent is built for $want_arch: it cannot run here. Give cairn the $here collector (--collector-bin; scripts/build-collectors.sh builds both), or let it read the node (get nodes) to choose"
  fi
fi

# The filesystem type of a directory (tmpfs, overlay, ...), or nothing when unknown.
fstype() { stat -f -c %T "$1" 2>/dev/null; }
# True when a directory is memory-backed.
in_memory() {
  case $(fstype "$1") in tmpfs|ramfs) return 0 ;; *) return 1 ;; esac
}

places="/dev /dev/shm /tmp /var/tmp"
[ -n "${HOME:-}" ] && places="$places $HOME"
places="$places $(pwd 2>/dev/null)"
if [ $memory = 1 ]; then
  kept=
  for p in $places; do
    if in_memory "$p"; then kept="$kept $p"; fi
  done
  places=$kept
  [ -n "$places" ] || die 95 "asked to write nothing to the container's disk, and no memory-backed directory is here (tmpfs, ramfs; as root /dev usually is): collect through an ephemeral container instead (cairn collect --via ephemeral), which writes nothing into the target"
fi

# Receive the binary into the first writable place.
for p in $places; do
  dir=$(private_dir "$p") && break
  dir=
done
if [ -z "$dir" ]; then
  [ $memory = 1 ] && die 95 "asked to write nothing to the container's disk, and no memory-backed directory is writable here (tried:$places): collect through an ephemeral container instead (cairn collect --via ephemeral), which writes nothing into the target"
  die 90 "no writable directory among: $places. The pod's filesystem is read-only everywhere: collect through an ephemeral container or the node instead (cairn collect --via ephemeral, or --via node)"
fi
bin="$dir/cairn-collector"

case $mode in
  stdin)
    case $src in *[!0-9]*|'') die 93 "SIZE must be a byte count" ;; esac
    # dd with fullblock reads exactly what it is asked for; `head -c` may read ahead
    # (busybox's does, through stdio) and swallow what follows the binary on stdin.
    command -v dd >/dev/null 2>&1 || die 92 "no dd here to read the collector from stdin: use --collector-url"
    blocks=$((src / 65536)) rest=$((src % 65536))
    {
      dd bs=65536 count=$blocks iflag=fullblock 2>/dev/null
      if [ $rest -gt 0 ]; then dd bs=$rest count=1 iflag=fullblock 2>/dev/null; fi
    } >"$bin"
    got=$(wc -c <"$bin" | tr -d ' ')
    [ "$got" = "$src" ] || die 93 "the collector arrived short: $got of $src bytes"
    ;;
  url)
    fetch "$src" "$bin" || { rc=$?; [ $rc -eq 92 ] && exit 92; die 93 "download failed (exit $rc)"; }
    ;;
  *) die 93 "unknown delivery '$mode' (stdin or url)" ;;
esac

# The plan, if any, follows the binary on stdin; it is kept in memory only.
plan=
if [ -n "$plan_size" ]; then
  plan=$(dd bs="$plan_size" count=1 iflag=fullblock 2>/dev/null)
  [ ${#plan} -eq "$plan_size" ] || die 93 "the upload plan arrived short: ${#plan} of $plan_size bytes"
fi

# The file at $bin must be what the launcher sent. Checked on arrival, after every
# copy, and right before it runs. (A root attacker in the container can still swap it
# between the check and the exec: docs/threat-model.md says what this does not stop.)
check() {
  have=$(sha256_of "$bin") || die 92 "no sha256sum, busybox, openssl or shasum here to check the collector: refusing to run it unchecked"
  [ "$have" = "$want" ] || die 91 "sha256 mismatch${1:+ $1}: expected $want, got $have; refusing to run it"
}
check
chmod 700 "$bin" || die 90 "cannot make $bin executable"

# Run it where execution is allowed: a noexec mount refuses ("Permission denied"), so
# move on. Any other failure means the binary cannot run on this system at all (another
# architecture, not an executable here), which no other place changes: say that.
runs() { # records why not in $denied or $broken
  out=$("$bin" --version 2>&1 >/dev/null) && return 0
  case $out in
    *[Pp]ermission\ denied*) denied="$denied ${bin%/*}" ;;
    *) broken=$(printf '%s' "$out" | head -n 1 | tr -cd ' -~') ;;
  esac
  return 1
}
denied='' broken=''
for p in $places; do
  check "before trying $bin"
  runs && break
  [ -n "$broken" ] && die 94 "the collector cannot run on this system: $broken. It is not a noexec mount: the binary itself does not run here (check its architecture with 'cairn version' and this node's with 'uname -m')"
  case $bin in "$p"/*) continue ;; esac
  next=$(private_dir "$p") || continue
  if cp "$bin" "$next/cairn-collector" 2>/dev/null && chmod 700 "$next/cairn-collector"; then
    rm -rf "$dir"
    dir=$next
    bin="$dir/cairn-collector"
  else
    rm -rf "$next"
  fi
done
if ! runs; then
  [ -n "$broken" ] && die 94 "the collector cannot run on this system: $broken. It is not a noexec mount: the binary itself does not run here (check its architecture with 'cairn version' and this node's with 'uname -m')"
  [ $memory = 1 ] && die 95 "asked to write nothing to the container's disk, and no memory-backed place allows execution (noexec:$denied): collect through an ephemeral container instead (cairn collect --via ephemeral), which writes nothing into the target"
  die 90 "no writable place here allows execution (noexec or read-only:$denied; tried: $places). Collect through an ephemeral container or the node instead (cairn collect --via ephemeral, or --via node)"
fi

check "right before running it"
fs=$(fstype "$dir")
if in_memory "$dir"; then where="memory, ${fs:-tmpfs}"; else where="${fs:-unknown filesystem}: the container's disk"; fi
say "running $bin (sha256 $have; $(wc -c <"$bin" | tr -d ' ') bytes on $where)"
# In the background so that a signal reaches the trap at once. A background command
# gets /dev/null as stdin, and ash does that before `<&0` would apply: pass the real
# stdin through fd 3.
exec 3<&0
if [ -n "$plan_size" ]; then
  # The collector's stdin is the plan, from memory.
  printf '%s' "$plan" | "$bin" "$@" 3<&- &
  child=$!
  plan=
elif [ $watch = 1 ]; then
  "$bin" "$@" </dev/null 3<&- &
  child=$!
fi
if [ $watch = 1 ]; then
  # The session's end is stdin's end: `cat` returns, the watcher stops the collector.
  cat <&3 >/dev/null 2>&1 &
  session=$!
  (
    # Stopped, it stops and reaps its own sleep too.
    nap=''
    trap 'kill "$nap" 2>/dev/null; wait "$nap" 2>/dev/null; exit 0' TERM
    while kill -0 "$session" 2>/dev/null; do
      kill -0 "$child" 2>/dev/null || exit 0
      sleep 0.2 &
      nap=$!
      wait "$nap"
    done
    kill -TERM "$child" 2>/dev/null
  ) </dev/null >/dev/null 2>&1 &
  watcher=$!
elif [ -z "$plan_size" ]; then
  "$bin" "$@" <&3 3<&- &
  child=$!
fi
wait "$child"
rc=$?
child=
cleanup
exit $rc
