#!/usr/bin/env bash
# scripts/clickhouse.sh — a real ClickHouse server on 127.0.0.1 for v2probe's
# fleet path: used by the tests, .ci/run and users without a packaged server.
#
#   scripts/clickhouse.sh fetch    create the venv and install chdb-core (cached)
#   scripts/clickhouse.sh start    fetch, write the config (free loopback ports, a
#                                  password user), start, wait for /ping; prints
#                                  CLICKHOUSE_URL=http://v2probe:PASS@127.0.0.1:PORT
#                                  (idempotent: a running server is reused)
#   scripts/clickhouse.sh stop     SIGTERM, then SIGKILL after 20 s
#   scripts/clickhouse.sh restart  stop + start on the same ports and data
#   scripts/clickhouse.sh kill     SIGKILL (outage tests), keeps ports and data
#   scripts/clickhouse.sh url      print the URL of the running server (exit 1 if none)
#   scripts/clickhouse.sh status   running or not, ports, pid, data dir
#
# The server is PyPI's chdb-core: ClickHouse's engine with its HTTP and native
# TCP servers, started by `SYSTEM START LISTEN` from a Python process that then
# blocks in a query until signalled (see DESIGN.md, "Real components").
# What this server mode honours, checked here: listen_host/http_port/tcp_port
# from config.xml in its working directory; users from a users.xml named in
# <user_directories> (a <users> block inside config.xml is ignored). The
# in-process query that keeps it serving authenticates as `default` with no
# password, so `default` stays (passwordless); tests and users use the
# `v2probe` user, whose random password is in $STATE/password.
#
# Exit: 0 ok; 1 failed (logs in $STATE); 3 unavailable on this machine (no python3
# venv, or PyPI's chdb-core cannot be installed) — one line says why.
#
# Environment:
#   CHDB_CORE_VERSION   PyPI chdb-core version (default 26.9.0)
#   CLICKHOUSE_CACHE    venv cache (default ~/.cache/v2probe/clickhouse), survives clones
#   CLICKHOUSE_STATE_DIR  config, data, log, pid, ports (default build/clickhouse)
#   CLICKHOUSE_EXTRA_XML  more config.xml elements (remote_servers, keeper_server, …)
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION="${CHDB_CORE_VERSION:-26.9.0}"
CACHE="${CLICKHOUSE_CACHE:-$HOME/.cache/v2probe/clickhouse}"
VENV="$CACHE/venv-$VERSION"
STATE="${CLICKHOUSE_STATE_DIR:-$ROOT/build/clickhouse}"
PIDF="$STATE/server.pid"
USER_NAME=v2probe

say() { echo "clickhouse: $*" >&2; }
die() { echo "clickhouse: FAILED: $*" >&2; exit 1; }
unavailable() { echo "clickhouse: UNAVAILABLE: $*" >&2; exit 3; }

fetch() {
  if [[ -f "$VENV/.complete" ]]; then return 0; fi
  command -v python3 >/dev/null || unavailable "python3 is not installed (needed for PyPI chdb-core)"
  mkdir -p "$CACHE"
  rm -rf "$VENV"
  say "installing PyPI chdb-core==$VERSION (a ~181 MB wheel) into $VENV"
  python3 -m venv "$VENV" >"$CACHE/venv.log" 2>&1 \
    || unavailable "python3 -m venv failed (apt-get install python3-venv?): $(tail -1 "$CACHE/venv.log")"
  if ! "$VENV/bin/pip" install -q --disable-pip-version-check "chdb-core==$VERSION" >"$CACHE/pip.log" 2>&1; then
    rm -rf "$VENV"
    unavailable "pip install chdb-core==$VERSION failed: $(grep -m1 -iE 'error' "$CACHE/pip.log" || tail -1 "$CACHE/pip.log")"
  fi
  touch "$VENV/.complete"
}

running_pid() {
  [[ -f "$PIDF" ]] || return 1
  local pid; pid="$(cat "$PIDF")"
  kill -0 "$pid" 2>/dev/null && grep -q serve.py "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

write_config() {
  mkdir -p "$STATE/data"
  [[ -f "$STATE/http.port" ]] || free_port >"$STATE/http.port"
  [[ -f "$STATE/tcp.port" ]] || free_port >"$STATE/tcp.port"
  [[ -f "$STATE/password" ]] || (umask 077; python3 -c 'import secrets; print(secrets.token_hex(12))' >"$STATE/password")
  cat >"$STATE/config.xml" <<EOF
<clickhouse>
  <listen_host>127.0.0.1</listen_host>
  <http_port>$(cat "$STATE/http.port")</http_port>
  <tcp_port>$(cat "$STATE/tcp.port")</tcp_port>
  <user_directories><users_xml><path>$STATE/users.xml</path></users_xml></user_directories>
${CLICKHOUSE_EXTRA_XML:-}
</clickhouse>
EOF
  (umask 077; cat >"$STATE/users.xml" <<EOF
<clickhouse>
  <users>
    <default><password></password><networks><ip>::/0</ip></networks><profile>default</profile><quota>default</quota></default>
    <$USER_NAME>
      <password>$(cat "$STATE/password")</password>
      <networks><ip>::/0</ip></networks>
      <profile>default</profile><quota>default</quota>
      <access_management>1</access_management>
    </$USER_NAME>
  </users>
  <profiles><default/></profiles>
  <quotas><default/></quotas>
</clickhouse>
EOF
  )
  cat >"$STATE/serve.py" <<'EOF'
# Serve HTTP and native TCP until signalled (chdb-core's server mode).
import os, sys
here = os.getcwd()
os.chdir('/')  # chdb's import-time connection must not read this config
from chdb import _chdb
os.chdir(here)
_chdb.query("SYSTEM START LISTEN HTTP; SYSTEM START LISTEN TCP; "
            "SELECT sum(sleepEachRow(1)) FROM numbers(1000000000) SETTINGS max_block_size=1, "
            "function_sleep_max_microseconds_per_block=0, max_execution_time=0",
            "TabSeparated", path=sys.argv[1])
EOF
}

url() { echo "http://$USER_NAME:$(cat "$STATE/password")@127.0.0.1:$(cat "$STATE/http.port")"; }

start() {
  if running_pid >/dev/null; then echo "CLICKHOUSE_URL=$(url)"; return 0; fi
  fetch
  write_config
  local port; port="$(cat "$STATE/http.port")"
  (cd "$STATE" && exec setsid "$VENV/bin/python" serve.py "$STATE/data" >>"$STATE/server.log" 2>&1 </dev/null) &
  echo $! >"$PIDF"
  local i
  for ((i = 0; i < 600; i++)); do
    if curl -fsS "http://127.0.0.1:$port/ping" >/dev/null 2>&1; then
      say "server $(curl -fsS "http://127.0.0.1:$port/?query=SELECT%20version()") up on 127.0.0.1:$port (native :$(cat "$STATE/tcp.port")), data $STATE/data"
      echo "CLICKHOUSE_URL=$(url)"
      return 0
    fi
    running_pid >/dev/null || { tail -20 "$STATE/server.log" >&2; die "the server exited at start (log: $STATE/server.log)"; }
    sleep 0.1
  done
  tail -20 "$STATE/server.log" >&2
  die "no answer on http://127.0.0.1:$port/ping within 60 s (log: $STATE/server.log)"
}

stop() {
  local pid sig=${1:-TERM} i
  pid="$(running_pid)" || { rm -f "$PIDF"; return 0; }
  kill "-$sig" "$pid" 2>/dev/null || true
  for ((i = 0; i < 200; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then say "still running after 20 s: SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; sleep 0.2; fi
  rm -f "$PIDF"
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop TERM ;;
  kill) stop KILL ;;
  restart) stop TERM; start ;;
  url) running_pid >/dev/null || exit 1; url ;;
  status)
    if pid="$(running_pid)"; then echo "running pid $pid http :$(cat "$STATE/http.port") tcp :$(cat "$STATE/tcp.port") data $STATE/data"
    else echo "not running (state $STATE)"; exit 1; fi ;;
  *) sed -n '2,30p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
