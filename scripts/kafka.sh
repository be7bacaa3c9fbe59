#!/usr/bin/env bash
# scripts/kafka.sh — a real single-node Apache Kafka (KRaft) on 127.0.0.1 for
# v2probe's fleet pipeline: used by the tests, .ci/run and users.
#
#   scripts/kafka.sh fetch     resolve the broker jars from Maven Central (cached)
#   scripts/kafka.sh start     fetch, format storage, start on a free port, wait
#                              until it answers; prints KAFKA_BROKERS=127.0.0.1:PORT
#                              (idempotent: a running broker is reused)
#   scripts/kafka.sh stop      stop it cleanly (SIGTERM, then SIGKILL after 30 s)
#   scripts/kafka.sh restart   stop + start on the same port and data (broker-restart tests)
#   scripts/kafka.sh brokers   print HOST:PORT of the running broker (exit 1 if none)
#   scripts/kafka.sh status    running or not, port, pid, data dir
#   scripts/kafka.sh scram-set USER [MECH...]     (secure broker) add or change a SCRAM
#                              user's password, read from stdin (default: SCRAM-SHA-256 and -512)
#   scripts/kafka.sh scram-delete USER [MECH...]  (secure broker) remove a SCRAM user
#
# Secure broker (KAFKA_SECURE=1 at the first start; the state dir remembers it): besides
# the PLAINTEXT listener it has SASL_SSL, SASL_PLAINTEXT and SSL (client certificate
# required) listeners, SASL mechanisms PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 for one
# user (KAFKA_SASL_USER, default v2probe; random password in $STATE/sasl.password), and
# a throwaway CA, broker and client certificate (openssl, keytool) in $STATE/tls.
# `start` then also prints KAFKA_SASL_SSL=, KAFKA_SASL_PLAINTEXT=, KAFKA_SSL=,
# KAFKA_CA=, KAFKA_CLIENT_CERT=, KAFKA_CLIENT_KEY=, KAFKA_SASL_USER=,
# KAFKA_SASL_PASSWORD_FILE=. connections.max.reauth.ms (KAFKA_REAUTH_MS, default
# 15000) makes a changed SCRAM password reach connected clients within seconds.
#
# Environment:
#   KAFKA_VERSION     org.apache.kafka:kafka_2.13 version (default 4.4.0, the newest 4.x
#                     that resolves; kafkajs 2.2.4 talks to it — see README)
#   KAFKA_CACHE       jar cache (default ~/.cache/v2probe/kafka), survives between runs
#   KAFKA_STATE_DIR   config, data, logs, pid and port of this broker (default build/kafka)
#   KAFKA_HEAP        JVM heap (default 512m)
#   KAFKA_SECURE      1: the secure broker above (default state dir build/kafka-secure)
#   KAFKA_START_TIMEOUT  seconds `start` may take after fetching the jars, formatting and
#                     waiting for the broker to answer included (default 130: the JVM's
#                     start-up alone takes 10-60 s on a busy 2-core machine; with the 30 s a
#                     stop may take after it, below the tests' 170 s limit on the script, so
#                     a failure is this script's message, with the logs' path)
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION="${KAFKA_VERSION:-4.4.0}"
CACHE="${KAFKA_CACHE:-$HOME/.cache/v2probe/kafka}/$VERSION"
SECURE="${KAFKA_SECURE:-0}"
if [[ "$SECURE" == 1 ]]; then STATE="${KAFKA_STATE_DIR:-$ROOT/build/kafka-secure}"; else STATE="${KAFKA_STATE_DIR:-$ROOT/build/kafka}"; fi
# a state dir set up as a secure broker stays one
if [[ -f "$STATE/secure.env" ]]; then SECURE=1; fi
HEAP="${KAFKA_HEAP:-512m}"
LIBS="$CACHE/libs"
PIDF="$STATE/broker.pid"
PORTF="$STATE/broker.port"
SECF="$STATE/secure.env"
TLS="$STATE/tls"
SASL_USER="${KAFKA_SASL_USER:-v2probe}"
REAUTH_MS="${KAFKA_REAUTH_MS:-15000}"

say() { echo "kafka: $*" >&2; }
die() { echo "kafka: FAILED: $*" >&2; exit 1; }

fetch() {
  if [[ -f "$LIBS/.complete" ]]; then return 0; fi
  command -v mvn >/dev/null || die "mvn is not installed (apt-get install maven)"
  command -v java >/dev/null || die "java is not installed (apt-get install openjdk-17-jre-headless)"
  mkdir -p "$CACHE"
  cat >"$CACHE/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>v2probe</groupId><artifactId>kafka-jars</artifactId><version>1</version><packaging>pom</packaging>
<dependencies>
<dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$VERSION</version></dependency>
<dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>2.25.5</version></dependency>
</dependencies></project>
EOF
  say "resolving org.apache.kafka:kafka_2.13:$VERSION from Maven Central into $LIBS"
  rm -rf "$LIBS.tmp"
  if ! (cd "$CACHE" && mvn -B -q dependency:copy-dependencies -DoutputDirectory="$LIBS.tmp" -DincludeScope=runtime >"$CACHE/mvn.log" 2>&1); then
    tail -20 "$CACHE/mvn.log" >&2
    die "mvn dependency:copy-dependencies of kafka_2.13:$VERSION failed (log: $CACHE/mvn.log)"
  fi
  rm -rf "$LIBS" && mv "$LIBS.tmp" "$LIBS" && touch "$LIBS/.complete"
  say "$(ls "$LIBS" | wc -l) jars cached"
}

running_pid() {
  [[ -f "$PIDF" ]] || return 1
  local pid; pid="$(cat "$PIDF")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && grep -q 'kafka.Kafka' "/proc/$pid/cmdline" 2>/dev/null && { echo "$pid"; return 0; }
  return 1
}

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

answers() { # a TCP connect, then an ApiVersions round trip through kafkajs when it is installed
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null || return 1
  if [[ -d "$ROOT/node_modules/kafkajs" ]]; then
    (cd "$ROOT" && timeout 10 node -e '
      const { Kafka, logLevel } = require("kafkajs");
      const a = new Kafka({ brokers: [process.argv[1]], logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
      a.connect().then(() => a.describeCluster()).then(() => a.disconnect()).then(() => process.exit(0), () => process.exit(1));
    ' "127.0.0.1:$1") >/dev/null 2>&1 || return 1
  fi
}

rand() { local s; s="$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"; printf '%s' "${s:0:${1:-24}}"; }

# A throwaway CA, a broker certificate (localhost, 127.0.0.1) in a PKCS12 keystore,
# the CA in a PKCS12 truststore (for the SSL listener's client certificates), and a
# client certificate + key (PEM) for mutual TLS. Generated once per state dir.
gen_tls() {
  [[ -f "$TLS/.complete" ]] && return 0
  command -v openssl >/dev/null || die "openssl is not installed (apt-get install openssl)"
  command -v keytool >/dev/null || die "keytool is not installed (apt-get install openjdk-17-jre-headless)"
  say "generating a throwaway CA, broker and client certificate in $TLS"
  rm -rf "$TLS" && mkdir -p "$TLS" && chmod 700 "$TLS"
  local pass; pass="$(rand)"
  (
    set -e
    cd "$TLS"
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 -subj "/CN=v2probe test CA $(rand 8)" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    openssl req -newkey rsa:2048 -nodes -keyout broker.key -out broker.csr -subj /CN=localhost
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' >broker.ext
    openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out broker.pem -days 30 -extfile broker.ext
    openssl pkcs12 -export -in broker.pem -inkey broker.key -certfile ca.pem -name broker -out broker.p12 -passout "pass:$pass"
    keytool -importcert -noprompt -storetype PKCS12 -alias ca -file ca.pem -keystore truststore.p12 -storepass "$pass"
    openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /CN=v2probe-client
    printf 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n' >client.ext
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 30 -extfile client.ext
    printf '%s' "$pass" >store.pass
    rm -f ./*.csr ./*.ext ./*.srl
  ) >"$STATE/tls.log" 2>&1 || { cat "$STATE/tls.log" >&2; die "certificate generation failed (log: $STATE/tls.log)"; }
  touch "$TLS/.complete"
}

# Ports and the SASL password of the secure listeners (kept across restarts).
# Arguments: the ports already taken (PLAINTEXT, CONTROLLER).
secure_setup() {
  gen_tls
  if [[ ! -f "$STATE/sasl.password" ]]; then (umask 077; rand >"$STATE/sasl.password"); fi
  if [[ ! -f "$SECF" ]]; then
    local taken=" $* " p ports=()
    while ((${#ports[@]} < 3)); do
      p="$(free_port)"
      [[ "$taken" == *" $p "* ]] && continue
      taken+="$p "
      ports+=("$p")
    done
    local a="${ports[0]}" b="${ports[1]}" c="${ports[2]}"
    printf 'SASL_SSL_PORT=%s\nSASL_PLAINTEXT_PORT=%s\nSSL_PORT=%s\nSASL_USER=%s\n' "$a" "$b" "$c" "$SASL_USER" >"$SECF"
  fi
  # shellcheck disable=SC1090
  source "$SECF"
}

# The secure part of server.properties (the file is mode 0600: it holds passwords).
secure_properties() {
  local pw spw l
  pw="$(cat "$STATE/sasl.password")"
  spw="$(cat "$TLS/store.pass")"
  cat <<EOF
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
connections.max.reauth.ms=$REAUTH_MS
ssl.keystore.type=PKCS12
ssl.keystore.location=$TLS/broker.p12
ssl.keystore.password=$spw
ssl.key.password=$spw
ssl.truststore.type=PKCS12
ssl.truststore.location=$TLS/truststore.p12
ssl.truststore.password=$spw
listener.name.ssl.ssl.client.auth=required
EOF
  for l in sasl_ssl sasl_plaintext; do
    echo "listener.name.$l.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$SASL_USER=\"$pw\";"
    echo "listener.name.$l.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
    echo "listener.name.$l.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
  done
}

print_env() {
  echo "KAFKA_BROKERS=127.0.0.1:$(cat "$PORTF")"
  [[ "$SECURE" == 1 ]] || return 0
  # shellcheck disable=SC1090
  source "$SECF"
  echo "KAFKA_SASL_SSL=127.0.0.1:$SASL_SSL_PORT"
  echo "KAFKA_SASL_PLAINTEXT=127.0.0.1:$SASL_PLAINTEXT_PORT"
  echo "KAFKA_SSL=127.0.0.1:$SSL_PORT"
  echo "KAFKA_CA=$TLS/ca.pem"
  echo "KAFKA_CLIENT_CERT=$TLS/client.pem"
  echo "KAFKA_CLIENT_KEY=$TLS/client.key"
  echo "KAFKA_SASL_USER=$SASL_USER"
  echo "KAFKA_SASL_PASSWORD_FILE=$STATE/sasl.password"
}

# scram-set USER [MECH...] (password on stdin) | scram-delete USER [MECH...]:
# the Admin API (AlterUserScramCredentials, scripts/KafkaScram.java) over the PLAINTEXT listener.
scram() {
  local op="$1" user="${2:-}"
  [[ -n "$user" ]] || die "usage: scripts/kafka.sh $op USER [SCRAM-SHA-256|SCRAM-SHA-512 ...]"
  shift 2
  [[ "$SECURE" == 1 ]] || die "$op: $STATE is not a secure broker (start it with KAFKA_SECURE=1)"
  running_pid >/dev/null || die "$op: the broker is not running"
  local mechs=("$@")
  ((${#mechs[@]})) || mechs=(SCRAM-SHA-256 SCRAM-SHA-512)
  printf '%s\n' 'rootLogger.level=ERROR' 'rootLogger.appenderRef.c.ref=C' 'appender.c.type=Console' 'appender.c.name=C' \
    'appender.c.target=SYSTEM_ERR' 'appender.c.layout.type=PatternLayout' 'appender.c.layout.pattern=%m%n' >"$STATE/log4j2-tool.properties"
  java -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 "-Dlog4j2.configurationFile=$STATE/log4j2-tool.properties" -cp "$LIBS/*" \
    "$ROOT/scripts/KafkaScram.java" "127.0.0.1:$(cat "$PORTF")" "$op" "$user" "${mechs[@]}"
}

start() {
  local pid port
  if pid="$(running_pid)"; then
    port="$(cat "$PORTF")"
    say "already running (pid $pid) on 127.0.0.1:$port"
    print_env
    return 0
  fi
  fetch
  local begun=$SECONDS
  mkdir -p "$STATE"
  # keep the port of an earlier run (restart keeps clients' address), else take a free one
  if [[ -f "$PORTF" && -d "$STATE/data" ]]; then port="$(cat "$PORTF")"; else port="$(free_port)"; fi
  local cport; cport="$(free_port)"
  [[ "$cport" != "$port" ]] || cport="$(free_port)"
  local listeners="PLAINTEXT://127.0.0.1:$port" protomap="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
  if [[ "$SECURE" == 1 ]]; then
    secure_setup "$port" "$cport"
    listeners="$listeners,SASL_SSL://127.0.0.1:$SASL_SSL_PORT,SASL_PLAINTEXT://127.0.0.1:$SASL_PLAINTEXT_PORT,SSL://127.0.0.1:$SSL_PORT"
    protomap="$protomap,SASL_SSL:SASL_SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL"
  fi
  cat >"$STATE/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=$listeners,CONTROLLER://127.0.0.1:$cport
advertised.listeners=$listeners
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=$protomap
log.dirs=$STATE/data
num.partitions=4
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=24
log.segment.bytes=67108864
EOF
  if [[ "$SECURE" == 1 ]]; then chmod 600 "$STATE/server.properties"; secure_properties >>"$STATE/server.properties"; fi
  cat >"$STATE/log4j2.properties" <<EOF
rootLogger.level=INFO
rootLogger.appenderRef.f.ref=F
appender.f.type=File
appender.f.name=F
appender.f.fileName=$STATE/server.log
appender.f.layout.type=PatternLayout
appender.f.layout.pattern=[%d] %p %m (%c)%n
logger.kafka.name=kafka
logger.kafka.level=INFO
logger.apache.name=org.apache.kafka
logger.apache.level=WARN
EOF
  local cp="$LIBS/*"
  local jopts=(-Xms128m "-Xmx$HEAP" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true
    "-Dlog4j2.configurationFile=$STATE/log4j2.properties" -cp "$cp")
  if [[ ! -f "$STATE/data/meta.properties" ]]; then
    local cid; cid="$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
    local scram=()
    if [[ "$SECURE" == 1 ]]; then
      local spw; spw="$(cat "$STATE/sasl.password")"
      scram=(--add-scram "SCRAM-SHA-256=[name=$SASL_USER,password=$spw]" --add-scram "SCRAM-SHA-512=[name=$SASL_USER,password=$spw]")
    fi
    say "formatting storage in $STATE/data (cluster $cid)"
    java "${jopts[@]}" kafka.tools.StorageTool format -t "$cid" -c "$STATE/server.properties" "${scram[@]}" >"$STATE/format.log" 2>&1 ||
      { cat "$STATE/format.log" >&2; die "storage format failed"; }
  fi
  echo "$port" >"$PORTF"
  local also=""
  [[ "$SECURE" == 1 ]] && also=" (+ SASL_SSL :$SASL_SSL_PORT, SASL_PLAINTEXT :$SASL_PLAINTEXT_PORT, SSL :$SSL_PORT)"
  say "starting Kafka $VERSION (KRaft, single node) on 127.0.0.1:$port$also"
  nohup java "${jopts[@]}" kafka.Kafka "$STATE/server.properties" >"$STATE/stdout.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$PIDF"
  # a deadline on the clock, not a count of attempts: each answers() spawns node, which
  # alone takes seconds on a loaded machine
  local t0=$SECONDS limit="${KAFKA_START_TIMEOUT:-130}" said=0
  while ((SECONDS - begun < limit)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -20 "$STATE/stdout.log" "$STATE/server.log" >&2 2>/dev/null || true
      die "broker exited during start (logs in $STATE)"
    fi
    if answers "$port"; then
      say "ready after $((SECONDS - t0)) s (pid $pid)"
      print_env
      return 0
    fi
    if ((SECONDS - said >= 5)); then
      said=$SECONDS
      ((SECONDS - t0 >= 5)) && say "waiting for the broker to answer on 127.0.0.1:$port ($((SECONDS - t0)) s)"
    fi
    sleep 0.25
  done
  stop
  die "broker did not answer within $limit s of start (logs in $STATE)"
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then say "not running"; rm -f "$PIDF"; return 0; fi
  say "stopping broker (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local i
  for ((i = 0; i < 120; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  if kill -0 "$pid" 2>/dev/null; then say "still running after 30 s: SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$PIDF"
  say "stopped"
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  brokers) running_pid >/dev/null || exit 1; echo "127.0.0.1:$(cat "$PORTF")" ;;
  status)
    if pid="$(running_pid)"; then echo "running pid=$pid port=$(cat "$PORTF") state=$STATE version=$VERSION"
    else echo "stopped state=$STATE version=$VERSION"; exit 1; fi ;;
  wipe) stop; rm -rf "$STATE" ;;
  scram-set | scram-delete) scram "$@" ;;
  *) sed -n '2,34p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
