#!/usr/bin/env bash
# System packages some tests need: Debian's chromium (the service page's end-to-end test, driven by
# Playwright) and PostgreSQL (the ledger's shared-deployment tests). Installed when missing and when
# we can (root with apt-get); otherwise those tests skip and say why.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium fonts-dejavu-core)
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  need+=(postgresql)
fi
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages for the tests: ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "note: not installing ${need[*]} (needs root and apt-get); the tests that use them will skip" >&2
fi
