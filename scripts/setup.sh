#!/usr/bin/env bash
# v2probe setup: bring a machine up to "ready to run and test", incrementally.
#
#   bash scripts/setup.sh               everything (npm start / npm test run this first)
#   bash scripts/setup.sh --build-only  packages + builds only (npm run build):
#                                       no test fixtures, no tracefs mount
#
# On a fresh Debian bookworm machine as root it installs the Debian and npm
# packages and builds the BPF objects, the native addon, the TypeScript and the
# test fixtures. When nothing changed every step is a cheap check (well under
# a few seconds in all). Each step prints one line "setup: <what> ... <outcome>";
# a failing step prints "setup: FAILED at <step>: <why>" (with the tail of its
# log, kept in build/setup/<step>.log) and the script exits non-zero.
#
# Not done here: sysctl kernel.bpf_stats_enabled=1 (the benchmark sets it).
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

BUILD_ONLY=0
for arg in "$@"; do
  case "$arg" in
    --build-only) BUILD_ONLY=1 ;;
    -h|--help) sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup: FAILED at arguments: unknown option '$arg' (known: --build-only)" >&2; exit 2 ;;
  esac
done

# A nested call (e.g. from an npm lifecycle script run by this setup) is a no-op.
if [[ -n "${V2PROBE_SETUP_RUNNING:-}" ]]; then
  echo "setup: nested call ... skipped (an outer setup is running)"
  exit 0
fi
export V2PROBE_SETUP_RUNNING=1

APT_PACKAGES=(clang llvm libbpf-dev libelf-dev zlib1g-dev bpftool make gcc g++ pkg-config)
NODE_MIN="20.6.0"
LOG_DIR="$ROOT/build/setup"
NPM_STAMP="node_modules/.v2probe-stamp"
NATIVE_OUT="native/build/Release/v2probe_native.node"
TS_STAMP="dist/.stamp"

now_ms() { date +%s%3N; }
T_START=$(now_ms)
STEP="start"
LINE_OPEN=0

# ---- output helpers ---------------------------------------------------------
begin() { # begin <step-id> <what>
  STEP="$1"
  printf 'setup: %s ... ' "$2"
  LINE_OPEN=1
}
outcome() { # outcome <text>
  printf '%s\n' "$*"
  LINE_OPEN=0
}
log_of() { printf '%s/%s.log' "$LOG_DIR" "$1"; }
fail() { # fail <why> [log-file]
  local why="$1" log="${2:-}"
  trap - ERR
  if [[ $LINE_OPEN == 1 ]]; then printf 'failed\n'; LINE_OPEN=0; fi
  if [[ -n "$log" && -s "$log" ]]; then
    {
      echo "---- last lines of $log ----"
      tail -n 40 "$log" | sed 's/^/  | /'
      echo "----"
    } >&2
  fi
  echo "setup: FAILED at $STEP: $why" >&2
  exit 1
}
on_err() {
  local rc=$? line=$1 cmd=$2
  fail "unexpected error (exit $rc) at scripts/setup.sh line $line: $cmd"
}
trap 'on_err $LINENO "$BASH_COMMAND"' ERR
elapsed() { # elapsed <start-ms> -> "1.2s"
  local ms=$(( $(now_ms) - $1 ))
  printf '%d.%ds' $((ms / 1000)) $(((ms % 1000) / 100))
}
# run_logged <step-id> <cmd...>: run with all output in build/setup/<step>.log
run_logged() {
  local id="$1"; shift
  local log; log="$(log_of "$id")"
  { echo "# $(date -Is) in $ROOT: $*"; } >"$log"
  "$@" >>"$log" 2>&1 </dev/null
}
is_root() { [[ $(id -u) == 0 ]]; }

mkdir -p "$LOG_DIR"

# Serialize concurrent runs (npm start and npm test at once) when flock exists.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$LOG_DIR/.lock"
  if ! flock -n 9; then
    echo "setup: waiting for another setup run to finish (lock $LOG_DIR/.lock)"
    flock 9
  fi
fi

# ---- 0. node ------------------------------------------------------------------
begin node "node >= $NODE_MIN"
command -v node >/dev/null 2>&1 || fail "node is not installed (need Node >= $NODE_MIN with npm)"
command -v npm >/dev/null 2>&1 || fail "npm is not installed (it comes with Node >= $NODE_MIN)"
NODE_VERSION="$(node -p 'process.versions.node')"
if [[ "$(printf '%s\n%s\n' "$NODE_MIN" "$NODE_VERSION" | sort -V | head -n1)" != "$NODE_MIN" ]]; then
  fail "node $NODE_VERSION is too old (need >= $NODE_MIN)"
fi
outcome "ok (v$NODE_VERSION, $(command -v node))"

# ---- a. Debian packages -------------------------------------------------------
begin debian-packages "debian packages (${APT_PACKAGES[*]})"
command -v dpkg-query >/dev/null 2>&1 \
  || fail "dpkg-query not found: this setup supports Debian/Ubuntu; install by hand: ${APT_PACKAGES[*]}"
missing_pkgs() {
  local installed
  installed="$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${APT_PACKAGES[@]}" 2>/dev/null || true)"
  local p
  for p in "${APT_PACKAGES[@]}"; do
    grep -qE "^${p//+/\\+}(:[a-z0-9]+)? ii" <<<"$installed" || printf '%s ' "$p"
  done
}
MISSING="$(missing_pkgs)"
if [[ -z "$MISSING" ]]; then
  outcome "ok (all installed)"
else
  MISSING="${MISSING% }"
  if ! is_root; then
    fail "missing Debian packages: $MISSING; run setup as root, or first: sudo apt-get install -y $MISSING"
  fi
  command -v apt-get >/dev/null 2>&1 || fail "apt-get not found; install by hand: $MISSING"
  printf 'installing %s ... ' "$MISSING"
  t=$(now_ms)
  run_logged apt-get-update apt-get -o DPkg::Lock::Timeout=300 update \
    || fail "apt-get update failed" "$(log_of apt-get-update)"
  # shellcheck disable=SC2086 # word splitting of the package list is wanted
  DEBIAN_FRONTEND=noninteractive run_logged apt-get-install \
    apt-get -o DPkg::Lock::Timeout=300 install -y $MISSING \
    || fail "apt-get install $MISSING failed" "$(log_of apt-get-install)"
  STILL="$(missing_pkgs)"
  [[ -z "$STILL" ]] || fail "still missing after apt-get install: $STILL" "$(log_of apt-get-install)"
  outcome "installed ($(elapsed "$t"))"
fi

# ---- b. npm packages ----------------------------------------------------------
begin npm-packages "npm packages"
[[ -f package.json ]] || fail "package.json not found in $ROOT"
NPM_REASON=""
if [[ ! -d node_modules ]]; then
  NPM_REASON="node_modules missing"
elif [[ ! -e "$NPM_STAMP" ]]; then
  NPM_REASON="no install stamp"
elif [[ package.json -nt "$NPM_STAMP" ]]; then
  NPM_REASON="package.json changed"
elif [[ -e package-lock.json && package-lock.json -nt "$NPM_STAMP" ]]; then
  NPM_REASON="package-lock.json changed"
fi
if [[ -z "$NPM_REASON" ]]; then
  outcome "up to date"
else
  NPM_FLAGS=(--no-audit --no-fund --include=dev)
  # npm ci installs exactly the tested versions from package-lock.json; a lock
  # out of sync with package.json is a defect to fix (npm install, commit the
  # lock), never papered over here by resolving other versions.
  [[ -f package-lock.json ]] || fail "package-lock.json is missing: run npm install once and commit it"
  NPM_CMD=ci
  printf '%s: npm ci ... ' "$NPM_REASON"
  t=$(now_ms)
  if ! run_logged npm npm ci "${NPM_FLAGS[@]}"; then
    why_ci="$(grep -v -E 'npm (error|ERR!) code ' "$(log_of npm)" | grep -m1 -E 'npm (error|ERR!) [^ ]' | sed -E 's/^npm (error|ERR!) //' | cut -c1-160 || true)"
    fail "npm ci failed: ${why_ci:-see the log}" "$(log_of npm)"
  fi
  [[ -d node_modules ]] || fail "npm $NPM_CMD left no node_modules" "$(log_of npm)"
  # Stamp after the install: npm rewrites package-lock.json (same content, new mtime).
  touch "$NPM_STAMP"
  outcome "done ($(elapsed "$t"))"
fi

# ---- c. BPF objects -------------------------------------------------------------
begin bpf "bpf objects (make -f bpf/Makefile)"
if [[ ! -f bpf/Makefile ]]; then
  outcome "skipped (bpf/Makefile not present yet)"
elif make -q -f bpf/Makefile >/dev/null 2>&1; then
  outcome "up to date"
else
  t=$(now_ms)
  run_logged bpf make -f bpf/Makefile || fail "make -f bpf/Makefile failed" "$(log_of bpf)"
  outcome "built ($(elapsed "$t"))"
fi

# ---- d. native addon ------------------------------------------------------------
begin native "native addon ($NATIVE_OUT)"
NODE_ABI="$(node -p 'process.versions.modules + " " + process.execPath')"
ABI_FILE="$LOG_DIR/native.abi"
if [[ ! -f native/build.sh ]]; then
  outcome "skipped (native/build.sh not present yet)"
else
  NATIVE_REASON=""
  if [[ ! -f "$NATIVE_OUT" ]]; then
    NATIVE_REASON="not built"
  elif [[ ! -f "$ABI_FILE" || "$(cat "$ABI_FILE")" != "$NODE_ABI" ]]; then
    NATIVE_REASON="node ABI changed or unknown"
  else
    shopt -s nullglob
    inputs=(native/src native/binding.gyp native/build.sh build/bpf/families.h build/bpf/*.bpf.o
            node_modules/node-addon-api/package.json)
    shopt -u nullglob
    existing=()
    for f in "${inputs[@]}"; do if [[ -e "$f" ]]; then existing+=("$f"); fi; done
    if ((${#existing[@]})); then
      newer="$(find "${existing[@]}" -newer "$NATIVE_OUT" -print -quit 2>/dev/null || true)"
      [[ -z "$newer" ]] || NATIVE_REASON="$newer changed"
    fi
  fi
  if [[ -z "$NATIVE_REASON" ]]; then
    outcome "up to date"
  else
    printf '%s: bash native/build.sh ... ' "$NATIVE_REASON"
    t=$(now_ms)
    run_logged native bash native/build.sh || fail "native/build.sh failed" "$(log_of native)"
    [[ -f "$NATIVE_OUT" ]] || fail "native/build.sh succeeded but $NATIVE_OUT is missing" "$(log_of native)"
    touch "$NATIVE_OUT" # a build that left the file as it was still counts as up to date now
    printf '%s\n' "$NODE_ABI" >"$ABI_FILE"
    outcome "built ($(elapsed "$t"))"
  fi
fi

# ---- e. TypeScript ---------------------------------------------------------------
begin typescript "typescript (tsc -p tsconfig.json -> dist/)"
# the rooms tsc compiles: tsconfig.json's "include" is the one list
mapfile -t TS_DIRS_ALL < <(node -e 'for (const p of require("./tsconfig.json").include) console.log(p.split("/")[0])' 2>/dev/null || echo cli)
TS_DIRS=()
for d in "${TS_DIRS_ALL[@]}"; do if [[ -d "$d" ]]; then TS_DIRS+=("$d"); fi; done
if ((${#TS_DIRS[@]} == 0)); then
  outcome "skipped (no TypeScript sources yet)"
else
  [[ -f tsconfig.json ]] || fail "tsconfig.json not found"
  TS_REASON=""
  if [[ ! -f "$TS_STAMP" ]]; then
    TS_REASON="not built"
  elif [[ tsconfig.json -nt "$TS_STAMP" ]]; then
    TS_REASON="tsconfig.json changed"
  elif [[ -f node_modules/typescript/package.json && node_modules/typescript/package.json -nt "$TS_STAMP" ]]; then
    TS_REASON="typescript updated"
  else
    # A changed .ts, or a directory whose entries changed (file added/removed/renamed).
    newer="$(find "${TS_DIRS[@]}" \( -name node_modules -o -path native/build \) -prune -o \
               \( -name '*.ts' -o -type d \) -newer "$TS_STAMP" -print -quit 2>/dev/null || true)"
    [[ -z "$newer" ]] || TS_REASON="$newer changed"
  fi
  if [[ -z "$TS_REASON" ]]; then
    outcome "up to date"
  else
    printf '%s: tsc ... ' "$TS_REASON"
    t=$(now_ms)
    mkdir -p dist
    stamp_new="$(mktemp "$LOG_DIR/ts-stamp.XXXXXX")"
    if ! run_logged typescript npx --no-install tsc -p tsconfig.json; then
      rm -f "$stamp_new"
      fail "TypeScript compile errors (npx tsc -p tsconfig.json)" "$(log_of typescript)"
    fi
    mv -f "$stamp_new" "$TS_STAMP"
    outcome "built ($(elapsed "$t"))"
  fi
fi

if [[ $BUILD_ONLY == 1 ]]; then
  echo "setup: done in $(elapsed "$T_START") (--build-only: test fixtures and tracefs not checked)"
  exit 0
fi

# ---- f. test fixtures -------------------------------------------------------------
begin fixtures "test fixtures (make -C test/fixtures -> build/fixtures/)"
if [[ ! -f test/fixtures/Makefile ]]; then
  outcome "skipped (test/fixtures/Makefile not present)"
elif make -q -C test/fixtures >/dev/null 2>&1; then
  outcome "up to date"
else
  t=$(now_ms)
  run_logged fixtures make -C test/fixtures || fail "make -C test/fixtures failed" "$(log_of fixtures)"
  outcome "built ($(elapsed "$t"))"
fi

# ---- g. tracefs (never fails setup) -----------------------------------------------------
begin tracefs "tracefs (/sys/kernel/tracing)"
if [[ -d /sys/kernel/tracing/events ]]; then
  outcome "mounted"
elif ! is_root; then
  outcome "NOT mounted and not root: tracepoint probes will not attach (as root: mount -t tracefs nodev /sys/kernel/tracing)"
elif mount -t tracefs nodev /sys/kernel/tracing >"$(log_of tracefs)" 2>&1 && [[ -d /sys/kernel/tracing/events ]]; then
  outcome "mounted it now (mount -t tracefs nodev /sys/kernel/tracing)"
else
  outcome "mount failed ($(tr -s '\n ' ' ' <"$(log_of tracefs)" | sed 's/ *$//')): tracepoint probes will not attach"
fi

# ---- h. the `v2probe` command (never fails setup) ----------------------------------------
# The README's examples say `v2probe …`: a wrapper in /usr/local/bin runs this
# checkout's bin/v2probe.js (up and collect with the collector's V8 heap bound, as npm start).
# It is replaced only when it is ours and points here or at a checkout that is
# gone; one pointing at another existing checkout is left alone (rm it to switch).
begin command "the v2probe command (/usr/local/bin/v2probe)"
WRAPPER=/usr/local/bin/v2probe
HERE=$(pwd -P)
MARK="# v2probe wrapper written by scripts/setup.sh"
current=""
[[ -f $WRAPPER ]] && grep -q "^$MARK" "$WRAPPER" 2>/dev/null && current=$(sed -n 's/^CHECKOUT=//p' "$WRAPPER")
if [[ -e $WRAPPER && -z $current ]]; then
  outcome "kept: $WRAPPER exists and is not ours (run this checkout with: node $HERE/bin/v2probe.js)"
elif [[ -n $current && $current != "$HERE" && -f $current/bin/v2probe.js ]]; then
  outcome "kept: $WRAPPER runs the checkout at $current (rm $WRAPPER and run setup here to switch)"
elif [[ $current == "$HERE" ]]; then
  outcome "on PATH (runs this checkout)"
elif ! is_root && [[ ! -w /usr/local/bin ]]; then
  outcome "not installed (not root): run this checkout with: node $HERE/bin/v2probe.js, or npx v2probe"
elif printf '#!/bin/sh\n%s\nCHECKOUT=%s\ncase "$1" in up|collect) exec node --max-old-space-size=128 "$CHECKOUT/bin/v2probe.js" "$@" ;; esac\nexec node "$CHECKOUT/bin/v2probe.js" "$@"\n' "$MARK" "$HERE" >"$WRAPPER.tmp" && chmod 755 "$WRAPPER.tmp" && mv "$WRAPPER.tmp" "$WRAPPER"; then
  outcome "installed: \`v2probe\` runs $HERE/bin/v2probe.js"
else
  outcome "could not write $WRAPPER: run this checkout with: node $HERE/bin/v2probe.js"
fi

echo "setup: done in $(elapsed "$T_START")"
