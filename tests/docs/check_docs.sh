#!/usr/bin/env bash
# CLI11 2.1.2 generates neither completions nor man pages, so they are written by hand; this
# keeps them complete: every long flag that `edge PATH --help` lists under "Options:" must be
# named in the three completion files and in the command's man page. Comments do not count.
# Usage: check_docs.sh EDGE_BINARY
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 EDGE_BINARY" >&2
  exit 2
fi
EDGE=$1
if [ ! -x "$EDGE" ]; then
  echo "check_docs: $EDGE is not an executable" >&2
  exit 2
fi
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

COMMANDS=("" "conntrack" "conntrack list" "conntrack stats" "conntrack watch" "nat" "nat snat" "nat dnat" "nat status" "proxy" "rproxy" "trace")
COMPLETIONS=(completions/edge.bash completions/_edge completions/edge.fish)

# The man page documenting a command path.
man_page() {
  case $1 in
    "") echo man/edge.1 ;;
    conntrack*) echo man/edge-conntrack.1 ;;
    *) echo "man/edge-${1%% *}.1" ;;
  esac
}

# The long flags of CLI11's help text (stdin): only from option lines of the Options section,
# i.e. indented lines starting with '-', and only from their names ("-p,--proto"), not from
# the descriptions (which may mention other flags).
long_flags() {
  awk '
    /^[^ \t]/ { in_options = ($0 ~ /^Options:/); next }  # section headers start in column 0
    in_options && /^[ \t]+-/ { print $1 }
  ' | tr ',' '\n' | { grep -E '^--[a-z][a-z0-9-]*$' || true; }
}

# A file's text without comment lines: shell '#' lines, roff '.\"' lines.
declare -A TEXT
load() {
  local file=$1
  case $file in
    man/*) TEXT[$file]=$(grep -v -E '^[.'\'']\\"' "$ROOT/$file" || true) ;;
    *) TEXT[$file]=$(grep -v -E '^[[:space:]]*#' "$ROOT/$file" || true) ;;
  esac
}

# Does FILE name FLAG (e.g. --proto)? Each format spells long options its own way.
names_flag() {
  local file=$1 name=${2#--} pattern
  case $file in
    man/*)
      # roff: --name or \-\-name (dashes inside the name may be escaped too).
      local roff_name=${name//-/(?:-|\\\\-)}
      pattern='(?:--|\\-\\-)'"$roff_name"'(?![a-z0-9-]|\\-)' ;;
    *.fish)
      # fish: -l name, --long name, --long-option name, or --name.
      pattern='(?:(?:^|\s)-l\s*|--long(?:-option)?[=\s]+)['\''"]?'"$name"'(?![a-z0-9-])|--'"$name"'(?![a-z0-9-])' ;;
    *)
      pattern='--'"$name"'(?![a-z0-9-])' ;;
  esac
  grep -qP -- "$pattern" <<<"${TEXT[$file]}"
}

failures=0
checked=0
declare -A distinct
for file in "${COMPLETIONS[@]}" man/edge.1 man/edge-conntrack.1 man/edge-nat.1 man/edge-proxy.1 man/edge-rproxy.1 man/edge-trace.1; do
  if [ -f "$ROOT/$file" ]; then
    load "$file"
  else
    echo "missing file: $file"
    failures=$((failures + 1))
  fi
done

for path in "${COMMANDS[@]}"; do
  label="edge${path:+ $path}"
  # shellcheck disable=SC2086  # the path is words: "conntrack list" is two arguments
  if ! help=$("$EDGE" $path --help 2>&1); then
    echo "'$label --help' failed: $help"
    failures=$((failures + 1))
    continue
  fi
  flags=$(long_flags <<<"$help")
  if [ -z "$flags" ]; then
    echo "no long flags found in the Options section of '$label --help' (did the help format change?)"
    failures=$((failures + 1))
    continue
  fi
  man=$(man_page "$path")
  for flag in $flags; do
    checked=$((checked + 1))
    distinct[$flag]=1
    for file in "${COMPLETIONS[@]}" "$man"; do
      [ -n "${TEXT[$file]+set}" ] || continue  # missing file: reported above
      if ! names_flag "$file" "$flag"; then
        echo "flag $flag of '$label' missing from $file"
        failures=$((failures + 1))
      fi
    done
  done
done

if [ "$failures" -ne 0 ]; then
  echo "docs incomplete: $failures problem(s)"
  exit 1
fi
echo "docs cover $checked flags (${#distinct[@]} distinct) of ${#COMMANDS[@]} commands in completions/ and man/"
