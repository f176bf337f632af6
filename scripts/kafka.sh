#!/usr/bin/env bash
# A local Kafka 3.9.1 broker (KRaft, one node, loopback only) and Kafka Connect (distributed, one
# worker) with the Debezium PostgreSQL connector, from Maven Central jars: no Docker needed.
#   scripts/kafka.sh fetch [dist-dir]   fetches the jars with Maven (cached in ~/.m2), once per pom change
#   scripts/kafka.sh start [run-dir]    starts both, waits until they answer; last lines:
#                                         KAFKA_BROKERS=127.0.0.1:9092
#                                         KAFKA_CONNECT_URL=http://127.0.0.1:8083
#   scripts/kafka.sh stop [run-dir]     stops both (Connect first), SIGKILL after 30 s
#   scripts/kafka.sh status [run-dir]   says what runs; exit 0 only when both answer
# Defaults: dist-dir = $TICKWISE_KAFKA_DIST or <repo>/.tickwise/kafka/dist (git-ignored),
#           run-dir  = <repo>/.tickwise/kafka/run (configs, data, pids, logs: broker.log, connect.log).
# Ports: TICKWISE_KAFKA_PORT (9092), TICKWISE_KAFKA_CONTROLLER_PORT (9093), TICKWISE_KAFKA_CONNECT_PORT (8083)
# (not KAFKA_PORT: Kubernetes and Docker links set that to tcp://… for a service named kafka).
# Heaps: TICKWISE_KAFKA_HEAP, TICKWISE_KAFKA_CONNECT_HEAP (512m); JVM flags: TICKWISE_KAFKA_JVM_FLAGS;
# readiness wait: TICKWISE_KAFKA_START_TIMEOUT (180 s). See docs/kafka.md.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
action=${1:-}
dist=${TICKWISE_KAFKA_DIST:-$repo/.tickwise/kafka/dist}
broker_port=${TICKWISE_KAFKA_PORT:-9092}
controller_port=${TICKWISE_KAFKA_CONTROLLER_PORT:-9093}
connect_port=${TICKWISE_KAFKA_CONNECT_PORT:-8083}
start_timeout=${TICKWISE_KAFKA_START_TIMEOUT:-180}
for setting in "TICKWISE_KAFKA_PORT=$broker_port" "TICKWISE_KAFKA_CONTROLLER_PORT=$controller_port" "TICKWISE_KAFKA_CONNECT_PORT=$connect_port"; do
  [[ ${setting#*=} =~ ^[0-9]{1,5}$ ]] && [ "${setting#*=}" -ge 1 ] && [ "${setting#*=}" -le 65535 ] ||
    { echo "kafka: $setting is not a port (1 to 65535)" >&2; exit 2; }
done

say() { echo "kafka: $*" >&2; }
die() { echo "kafka: $*" >&2; exit 1; }

absolute() { mkdir -p "$1" && (cd "$1" && pwd); }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

fetch() {
  dist=$(absolute "${1:-$dist}")
  local stamp="$dist/.fetched" wanted
  wanted=$(sha256sum "$repo/scripts/kafka/pom.xml" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ] && [ -d "$dist/lib" ] && [ -d "$dist/plugins/debezium-connector-postgres" ]; then
    say "jars already fetched in $dist"
    return
  fi
  command -v mvn >/dev/null || die "mvn not found: install Maven 3 (and Java 17+) to fetch Kafka"
  say "fetching Kafka, Kafka Connect and Debezium with Maven into $dist"
  rm -rf "$dist/lib" "$dist/plugins" "$dist/.markers" "$stamp"
  # Debian's Maven 3.8 prints colour resets even in batch mode: strip them (pipefail keeps mvn's status).
  mvn -q -B -f "$repo/scripts/kafka/pom.xml" package -Dkafka.dist="$dist" 2>&1 | sed 's/\x1b\[[0-9;]*m//g' >&2
  echo "$wanted" >"$stamp"
  say "fetched: lib $(du -sh "$dist/lib" | cut -f1), plugins $(du -sh "$dist/plugins" | cut -f1)"
}

write_configs() {
  local run=$1
  cat >"$run/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$broker_port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$broker_port
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$run/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=5
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
delete.topic.enable=true
log.retention.hours=24
EOF
  cat >"$run/connect.properties" <<EOF
bootstrap.servers=127.0.0.1:$broker_port
listeners=http://127.0.0.1:$connect_port
rest.advertised.host.name=127.0.0.1
rest.advertised.port=$connect_port
group.id=tickwise-connect
config.storage.topic=_tickwise-connect-configs
offset.storage.topic=_tickwise-connect-offsets
status.storage.topic=_tickwise-connect-status
config.storage.replication.factor=1
offset.storage.replication.factor=1
offset.storage.partitions=1
status.storage.replication.factor=1
status.storage.partitions=1
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=false
value.converter.schemas.enable=false
offset.flush.interval.ms=1000
plugin.path=$dist/plugins
EOF
  for name in broker connect; do
    cat >"$run/log4j-$name.properties" <<EOF
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=$run/$name.log
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.org.apache.kafka.clients=WARN
log4j.logger.org.reflections=ERROR
log4j.logger.kafka.request.logger=WARN
EOF
  done
}

java_opts() {
  # Serial GC and C1 only: on 2 cores both JVMs reach ready with ~6.8 s of CPU instead of ~11 s and
  # idle at ~60 ms/s instead of ~80, leaving the CPU to the tests (measured; docs/kafka.md).
  # TICKWISE_KAFKA_JVM_FLAGS="" gives the JVM's defaults, for a long-lived broker.
  echo "-Xms64m -Xmx$1 ${TICKWISE_KAFKA_JVM_FLAGS--XX:+UseSerialGC -XX:TieredStopAtLevel=1} -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true -Dlog4j.configuration=file:$2"
}

launch() {
  local run=$1 name=$2 heap=$3
  shift 3
  # setsid: its own session, so a Ctrl-C or a CI job's process group does not reach it; stop() ends it by pid.
  # shellcheck disable=SC2046
  setsid java $(java_opts "$heap" "$run/log4j-$name.properties") -cp "$dist/lib/*" "$@" \
    >"$run/$name.out" 2>&1 </dev/null &
  echo $! >"$run/$name.pid"
}

wait_until() {
  local what=$1 pidfile=$2 log=$3
  shift 3
  local deadline=$((SECONDS + start_timeout))
  until "$@"; do
    running "$pidfile" || die "$what exited while starting; see $log"
    [ $SECONDS -lt $deadline ] || die "$what did not answer within ${start_timeout}s; see $log"
    sleep 0.5
  done
}

connect_ready() {
  # /health (Kafka 3.9, KIP-1017) answers 200 only once the worker joined its group and read its topics.
  curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$connect_port/health" 2>/dev/null &&
    curl -fs --max-time 5 "http://127.0.0.1:$connect_port/connector-plugins" 2>/dev/null | grep -q 'io.debezium.connector.postgresql.PostgresConnector'
}

start() {
  local run
  run=$(absolute "${1:-$repo/.tickwise/kafka/run}")
  [ -d "$dist/lib" ] && [ -d "$dist/plugins/debezium-connector-postgres" ] || die "no jars in $dist: run 'scripts/kafka.sh fetch' first"
  command -v java >/dev/null || die "java not found: install Java 17+"
  if running "$run/broker.pid" || running "$run/connect.pid"; then die "already running from $run (scripts/kafka.sh stop $run)"; fi
  for port in "$broker_port" "$controller_port" "$connect_port"; do
    port_open "$port" && die "127.0.0.1:$port is already in use (set TICKWISE_KAFKA_PORT, TICKWISE_KAFKA_CONTROLLER_PORT, TICKWISE_KAFKA_CONNECT_PORT)"
  done
  write_configs "$run"
  printf 'broker_port=%s\ncontroller_port=%s\nconnect_port=%s\n' "$broker_port" "$controller_port" "$connect_port" >"$run/ports"
  if [ ! -f "$run/data/meta.properties" ]; then
    # Formatted once: a second format of the same log.dirs would refuse (or lose the topics).
    # The id comes from Kafka's own generator, which never starts one with '-' (an id cut from
    # base64 did, one time in 64, and `format -t -…` then took it for an option); `--cluster-id=`
    # keeps even such an id a value.
    local cluster_id
    cluster_id=$(java -Xmx64m -XX:TieredStopAtLevel=1 -Dlog4j.configuration=file:"$run/log4j-broker.properties" -cp "$dist/lib/*" \
      kafka.tools.StorageTool random-uuid 2>"$run/format.out") || die "drawing a cluster id failed; see $run/format.out"
    [[ $cluster_id =~ ^[A-Za-z0-9_-]{22}$ ]] || die "kafka-storage random-uuid gave \"$cluster_id\", not a cluster id"
    java -Xmx256m -XX:TieredStopAtLevel=1 -Dlog4j.configuration=file:"$run/log4j-broker.properties" -cp "$dist/lib/*" \
      kafka.tools.StorageTool format --cluster-id="$cluster_id" -c "$run/server.properties" >"$run/format.out" 2>&1 ||
      die "formatting the broker storage failed; see $run/format.out"
  fi
  local began=$SECONDS
  launch "$run" broker "${TICKWISE_KAFKA_HEAP:-512m}" kafka.Kafka "$run/server.properties"
  wait_until "the broker" "$run/broker.pid" "$run/broker.log" port_open "$broker_port"
  say "broker answers on 127.0.0.1:$broker_port after $((SECONDS - began))s"
  launch "$run" connect "${TICKWISE_KAFKA_CONNECT_HEAP:-512m}" org.apache.kafka.connect.cli.ConnectDistributed "$run/connect.properties"
  wait_until "Kafka Connect" "$run/connect.pid" "$run/connect.log" connect_ready
  say "Kafka Connect answers on 127.0.0.1:$connect_port after $((SECONDS - began))s (logs in $run)"
  echo "KAFKA_BROKERS=127.0.0.1:$broker_port"
  echo "KAFKA_CONNECT_URL=http://127.0.0.1:$connect_port"
}

stop_one() {
  local name=$1 pidfile=$2
  running "$pidfile" || { rm -f "$pidfile"; return 0; }
  local pid
  pid=$(cat "$pidfile")
  kill -TERM "$pid"
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; say "$name stopped"; return 0; }
    sleep 0.5
  done
  say "$name did not stop within 30s: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

stop() {
  local run=${1:-$repo/.tickwise/kafka/run}
  [ -d "$run" ] || return 0
  # Connect first: it commits its offsets and leaves its group while the broker still answers.
  stop_one "Kafka Connect" "$run/connect.pid"
  stop_one "the broker" "$run/broker.pid"
}

status() {
  local run=${1:-$repo/.tickwise/kafka/run} ok=0
  # The ports it was started with, whatever this shell's environment says.
  # shellcheck disable=SC1091
  [ -f "$run/ports" ] && . "$run/ports"
  if running "$run/broker.pid" && port_open "$broker_port"; then
    say "broker: running (pid $(cat "$run/broker.pid")) on 127.0.0.1:$broker_port"
  else
    say "broker: not running"; ok=1
  fi
  if running "$run/connect.pid" && connect_ready; then
    say "Kafka Connect: running (pid $(cat "$run/connect.pid")) on 127.0.0.1:$connect_port"
  else
    say "Kafka Connect: not running"; ok=1
  fi
  if [ $ok = 0 ]; then
    echo "KAFKA_BROKERS=127.0.0.1:$broker_port"
    echo "KAFKA_CONNECT_URL=http://127.0.0.1:$connect_port"
  fi
  return $ok
}

case "$action" in
  fetch) fetch "${2:-}" ;;
  start) start "${2:-}" ;;
  stop) stop "${2:-}" ;;
  status) status "${2:-}" ;;
  *) echo "usage: scripts/kafka.sh fetch|start|stop|status [dir]" >&2; exit 2 ;;
esac
