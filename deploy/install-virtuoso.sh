#!/usr/bin/env bash
# Installs Debian's virtuoso-opensource for `make test-virtuoso`, which starts throw-away instances of its own
# (tests/server/store_server.py): the package's system service (ports 1111 and 8890) is kept from starting
# during the install by a policy-rc.d that is removed afterwards. Nothing to do when virtuoso-t is installed.
set -euo pipefail
command -v virtuoso-t >/dev/null 2>&1 && exit 0
export DEBIAN_FRONTEND=noninteractive
guard=/usr/sbin/policy-rc.d
added=""
if [ ! -e "$guard" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$guard"
  chmod +x "$guard"
  added=yes
fi
cleanup() { if [ -n "$added" ]; then rm -f "$guard"; fi; }
trap cleanup EXIT
apt-get update
apt-get install -y --no-install-recommends virtuoso-opensource
