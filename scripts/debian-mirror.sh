#!/bin/sh
# Print the Debian mirror this machine's apt is configured with (the first
# enabled "deb" source that serves the main archive, not the security archive).
# Reads /etc/apt/sources.list and /etc/apt/sources.list.d/*.list|*.sources, so
# no mirror host name is ever written into the repository.
set -eu
SUITE=${1:-bookworm}
{
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    # one-line format: deb [opts] URI SUITE COMPONENTS...
    sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" |
      awk -v s="$SUITE" '$1 == "deb" && $3 == s { print $2 }'
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # deb822 format: stanzas separated by blank lines
    awk -v s="$SUITE" '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && enabled != "no" && (" " suites " ") ~ (" " s " "))
          { n = split(uris, u, " "); for (i = 1; i <= n; i++) print u[i] }
        types = ""; uris = ""; suites = ""; enabled = ""
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      tolower($1) == "types:"   { $1 = ""; types = $0 }
      tolower($1) == "uris:"    { $1 = ""; uris = $0 }
      tolower($1) == "suites:"  { $1 = ""; suites = $0 }
      tolower($1) == "enabled:" { enabled = tolower($2) }
      END { flush() }
    ' "$f"
  done
} | sed -e 's/^ *//' | grep -v -- '-security' | head -n 1 | grep . || {
  echo "error: no enabled apt source for suite $SUITE found in /etc/apt" >&2
  exit 1
}
