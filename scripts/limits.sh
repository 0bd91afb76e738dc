#!/usr/bin/env bash
# The project's size limits on its own code (not tests): no function over 100 lines, no
# source file over 600 (its unit tests included). Prints every function and file over
# its limit and exits 1 when there is one; with --top N, also the N longest functions
# and largest files. A function runs from its `fn` line to the `}` at the same
# indentation (rustfmt's layout); functions in a `#[cfg(test)]` module, and everything
# under tests/, benches/, examples/ and fuzz/, are tests and not counted.
#
# Usage: scripts/limits.sh [--top N]
set -euo pipefail
cd "$(dirname "$0")/.."
top=0
[ "${1:-}" = --top ] && top=${2:-10}
files=$(git ls-files '*.rs' | grep -Ev '(^|/)(tests|benches|examples|fuzz)/' || true)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in $files; do
  awk -v file="$f" '
    # Functions in a #[cfg(test)] module are tests; the file counts whole.
    /^#\[cfg\(test\)\]/ { intest = 1 }
    !intest && match($0, /^ *((pub(\([a-z:]+\))? )?(const )?(async )?(unsafe )?(extern "C" )?fn [A-Za-z_0-9]+)/) {
      if (depth == 0 || $0 !~ /;$/) {
        ind = match($0, /[^ ]/) - 1
        name = $0; sub(/^ *((pub(\([a-z:]+\))? )?(const )?(async )?(unsafe )?(extern "C" )?fn )/, "", name); sub(/[^A-Za-z_0-9].*/, "", name)
        if ($0 ~ /[;}] *$/ && $0 !~ /\{ *$/) { next }
        stack[++depth] = ind; names[depth] = name; starts[depth] = NR
      }
      next
    }
    depth > 0 {
      ind = match($0, /[^ ]/) - 1
      if (ind == stack[depth] && $0 ~ /^ *\}/) {
        printf "fn %d %s:%d %s\n", NR - starts[depth] + 1, file, starts[depth], names[depth]
        depth--
      }
    }
    END { printf "file %d %s\n", NR, file }
  ' "$f"
done >"$tmp/all"
status=0
while read -r kind n where name; do
  if [ "$kind" = fn ] && [ "$n" -gt 100 ]; then
    echo "over the limit: fn $name ($where) has $n lines, more than 100"
    status=1
  elif [ "$kind" = file ] && [ "$n" -gt 600 ]; then
    echo "over the limit: $where has $n lines, more than 600"
    status=1
  fi
done <"$tmp/all"
if [ "$top" -gt 0 ]; then
  echo "the $top longest functions (lines, where, name):"
  grep '^fn ' "$tmp/all" | sort -k2,2nr | head -n "$top" | awk '{printf "  %4d  %s  %s\n", $2, $3, $4}'
  echo "the $top largest files (lines):"
  grep '^file ' "$tmp/all" | sort -k2,2nr | head -n "$top" | awk '{printf "  %4d  %s\n", $2, $3}'
fi
exit "$status"
