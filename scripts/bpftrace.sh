#!/usr/bin/env bash
# scripts/bpftrace.sh — install bpftrace (the Debian package) when it is
# missing, for the bpftrace comparison benchmark (bench/bpftrace-uds.ts).
#
#   bash scripts/bpftrace.sh          install if missing; prints "bpftrace: <path> <version>"
#   bash scripts/bpftrace.sh --check  only say whether it is installed (exit 1 if not)
#
# Needs root and apt-get (Debian/Ubuntu). `apt-get update` is run once when the
# first install attempt fails (stale or empty package lists). Exit codes:
# 0 installed (now or before), 1 not installed (the reason on stderr),
# 2 usage error.
set -Eeuo pipefail

CHECK_ONLY=0
for arg in "$@"; do
  case "$arg" in
    --check) CHECK_ONLY=1 ;;
    -h|--help) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bpftrace.sh: unknown option '$arg' (known: --check)" >&2; exit 2 ;;
  esac
done

say_installed() {
  echo "bpftrace: $(command -v bpftrace) $(bpftrace --version 2>/dev/null | head -n1)"
}

if command -v bpftrace >/dev/null 2>&1; then
  say_installed
  exit 0
fi
if [[ $CHECK_ONLY == 1 ]]; then
  echo "bpftrace: not installed" >&2
  exit 1
fi
if [[ $(id -u) != 0 ]]; then
  echo "bpftrace: not installed, and installing it needs root" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "bpftrace: not installed, and there is no apt-get here to install it" >&2
  exit 1
fi

LOG="$(mktemp -t v2probe-bpftrace-install.XXXXXX)"
trap 'rm -f "$LOG"' EXIT
export DEBIAN_FRONTEND=noninteractive
install() { apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends bpftrace >>"$LOG" 2>&1; }
echo "bpftrace: not installed; apt-get install bpftrace ..." >&2
if ! install; then
  echo "bpftrace: install failed; apt-get update, then again ..." >&2
  apt-get -o DPkg::Lock::Timeout=300 update >>"$LOG" 2>&1 || true
  if ! install; then
    echo "bpftrace: apt-get install bpftrace failed:" >&2
    tail -n 5 "$LOG" | sed 's/^/  | /' >&2
    exit 1
  fi
fi
if ! command -v bpftrace >/dev/null 2>&1; then
  echo "bpftrace: the package installed but no bpftrace command is on PATH" >&2
  exit 1
fi
say_installed
