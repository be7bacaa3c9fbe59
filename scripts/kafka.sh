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
#
# Environment:
#   KAFKA_VERSION     org.apache.kafka:kafka_2.13 version (default 4.4.0, the newest 4.x
#                     that resolves; kafkajs 2.2.4 talks to it — see README)
#   KAFKA_CACHE       jar cache (default ~/.cache/v2probe/kafka), survives between runs
#   KAFKA_STATE_DIR   config, data, logs, pid and port of this broker (default build/kafka)
#   KAFKA_HEAP        JVM heap (default 512m)
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION="${KAFKA_VERSION:-4.4.0}"
CACHE="${KAFKA_CACHE:-$HOME/.cache/v2probe/kafka}/$VERSION"
STATE="${KAFKA_STATE_DIR:-$ROOT/build/kafka}"
HEAP="${KAFKA_HEAP:-512m}"
LIBS="$CACHE/libs"
PIDF="$STATE/broker.pid"
PORTF="$STATE/broker.port"

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

start() {
  local pid port
  if pid="$(running_pid)"; then
    port="$(cat "$PORTF")"
    say "already running (pid $pid) on 127.0.0.1:$port"
    echo "KAFKA_BROKERS=127.0.0.1:$port"
    return 0
  fi
  fetch
  mkdir -p "$STATE"
  # keep the port of an earlier run (restart keeps clients' address), else take a free one
  if [[ -f "$PORTF" && -d "$STATE/data" ]]; then port="$(cat "$PORTF")"; else port="$(free_port)"; fi
  local cport; cport="$(free_port)"
  [[ "$cport" != "$port" ]] || cport="$(free_port)"
  cat >"$STATE/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
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
    say "formatting storage in $STATE/data (cluster $cid)"
    java "${jopts[@]}" kafka.tools.StorageTool format -t "$cid" -c "$STATE/server.properties" >"$STATE/format.log" 2>&1 ||
      { cat "$STATE/format.log" >&2; die "storage format failed"; }
  fi
  echo "$port" >"$PORTF"
  say "starting Kafka $VERSION (KRaft, single node) on 127.0.0.1:$port"
  nohup java "${jopts[@]}" kafka.Kafka "$STATE/server.properties" >"$STATE/stdout.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$PIDF"
  local i
  for ((i = 0; i < 240; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -20 "$STATE/stdout.log" "$STATE/server.log" >&2 2>/dev/null || true
      die "broker exited during start (logs in $STATE)"
    fi
    if answers "$port"; then
      say "ready after $((i / 4)) s (pid $pid)"
      echo "KAFKA_BROKERS=127.0.0.1:$port"
      return 0
    fi
    ((i % 20 == 19)) && say "waiting for the broker to answer on 127.0.0.1:$port ($((i / 4)) s)"
    sleep 0.25
  done
  stop
  die "broker did not answer within 60 s (logs in $STATE)"
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
  *) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
