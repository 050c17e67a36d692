#!/usr/bin/env bash
# A single-node Apache Kafka 4.x broker in KRaft mode for development and tests.
#
#   deploy/kafka/local.sh start   start (or reuse) the broker; last line = bootstrap address
#   deploy/kafka/local.sh stop    stop it, keeping its data for the next start
#   deploy/kafka/local.sh reset   stop it and wipe its data
#   deploy/kafka/local.sh status  print the bootstrap address if it runs, else exit 1
#   deploy/kafka/local.sh fetch   resolve the jars only
#
# The jars come from Maven Central through the pinned pom.xml beside this file
# (cached in ~/.m2, copied to target/lib). KAFKA_LOCAL_PORT picks the client
# port (default 9092); KAFKA_LOCAL_DIR the data+log directory
# (default .kafka-local in the repository root, one per port).
#
# Optional SCRAM-over-TLS listener (docs/security.md), beside the plaintext one:
#   KAFKA_LOCAL_SCRAM_TLS_PORT         its port (unset: no such listener)
#   KAFKA_LOCAL_KEYSTORE               PKCS12 keystore with the broker's key and
#                                      certificate (its SAN must name 127.0.0.1)
#   KAFKA_LOCAL_KEYSTORE_PASSWORD      that keystore's password
#   KAFKA_LOCAL_SCRAM_USERS            user:password[,user:password...], created for
#                                      SCRAM-SHA-256 and SCRAM-SHA-512 when the data
#                                      directory is first formatted (reset to change)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
port="${KAFKA_LOCAL_PORT:-9092}"
controller_port="$((port + 1))"
dir="${KAFKA_LOCAL_DIR:-$root/.kafka-local/$port}"
lib="$here/target/lib"
pidfile="$dir/broker.pid"
bootstrap="127.0.0.1:$port"
scram_port="${KAFKA_LOCAL_SCRAM_TLS_PORT:-}"

die() { echo "local.sh: $*" >&2; exit 1; }

running() {
  [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

answering() {
  # A TCP connect is enough to tell that the listener is up; the broker only
  # opens it after KRaft metadata is loaded.
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

jars() {
  if [[ ! -f "$lib/.complete" ]]; then
    command -v mvn >/dev/null || die "Maven is required to fetch the Kafka jars (apt-get install maven)"
    echo "resolving Kafka jars with Maven (first run only)..." >&2
    (cd "$here" && mvn -q -B package >&2) || die "Maven could not resolve the Kafka jars"
    touch "$lib/.complete"
  fi
}

write_config() {
  mkdir -p "$dir/data" "$dir/logs"
  local listeners="PLAINTEXT://127.0.0.1:$port" protocols="PLAINTEXT:PLAINTEXT"
  if [[ -n "$scram_port" ]]; then
    [[ -f "${KAFKA_LOCAL_KEYSTORE:-}" ]] || die "KAFKA_LOCAL_SCRAM_TLS_PORT needs KAFKA_LOCAL_KEYSTORE (a PKCS12 file)"
    [[ -n "${KAFKA_LOCAL_KEYSTORE_PASSWORD:-}" ]] || die "KAFKA_LOCAL_SCRAM_TLS_PORT needs KAFKA_LOCAL_KEYSTORE_PASSWORD"
    listeners="$listeners,SASL_SSL://127.0.0.1:$scram_port"
    protocols="$protocols,SASL_SSL:SASL_SSL"
  fi
  cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=$listeners,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=$listeners
controller.listener.names=CONTROLLER
listener.security.protocol.map=$protocols,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=8
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.retention.hours=168
log.segment.bytes=67108864
log.cleaner.dedupe.buffer.size=16777216
PROPS
  if [[ -n "$scram_port" ]]; then
    # The file is written each start and holds the keystore password: owner only.
    chmod 600 "$dir/server.properties"
    cat >> "$dir/server.properties" <<PROPS
sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.ssl.keystore.type=PKCS12
listener.name.sasl_ssl.ssl.keystore.location=$KAFKA_LOCAL_KEYSTORE
listener.name.sasl_ssl.ssl.keystore.password=$KAFKA_LOCAL_KEYSTORE_PASSWORD
PROPS
  fi
  cat > "$dir/log4j2.yaml" <<LOG
Configuration:
  Appenders:
    File:
      name: file
      fileName: "$dir/logs/server.log"
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: WARN
      AppenderRef:
        - ref: file
    Logger:
      - name: kafka
        level: INFO
LOG
}

jvm_args() {
  # 1 GB heap: plenty for one broker with a few hundred partitions, small
  # beside the workers on a 2-core, 24 GB machine.
  local heap="${KAFKA_LOCAL_HEAP:-1G}"
  JVM=(java "-Xms$heap" "-Xmx$heap" -XX:+UseG1GC -XX:MaxGCPauseMillis=20
    -Djava.awt.headless=true "-Dlog4j2.configurationFile=$dir/log4j2.yaml"
    "-Dkafka.logs.dir=$dir/logs" -cp "$lib/*")
}

scram_users() {
  # SCRAM credentials live in the cluster metadata: written when formatting.
  SCRAM_ARGS=()
  local entry name password mechanism entries
  [[ -n "$scram_port" && -n "${KAFKA_LOCAL_SCRAM_USERS:-}" ]] || return 0
  IFS=',' read -ra entries <<<"$KAFKA_LOCAL_SCRAM_USERS"
  for entry in "${entries[@]}"; do
    name="${entry%%:*}" password="${entry#*:}"
    [[ -n "$name" && "$entry" == *:* ]] || die "KAFKA_LOCAL_SCRAM_USERS: expected user:password[,user:password...]"
    for mechanism in SCRAM-SHA-256 SCRAM-SHA-512; do
      SCRAM_ARGS+=(--add-scram "$mechanism=[name=$name,password=$password]")
    done
  done
}

start() {
  if running && answering; then
    echo "$bootstrap"
    return 0
  fi
  if answering; then
    # Someone else's broker on this port: reuse it rather than clash.
    echo "reusing the broker already listening on $bootstrap" >&2
    echo "$bootstrap"
    return 0
  fi
  command -v java >/dev/null || die "Java 17+ is required (apt-get install openjdk-17-jre-headless)"
  jars
  write_config
  jvm_args
  scram_users
  if [[ ! -f "$dir/data/meta.properties" ]]; then
    [[ -f "$dir/cluster.id" ]] || "${JVM[@]}" kafka.tools.StorageTool random-uuid >"$dir/cluster.id"
    "${JVM[@]}" kafka.tools.StorageTool format -t "$(cat "$dir/cluster.id")" \
      -c "$dir/server.properties" ${SCRAM_ARGS[@]+"${SCRAM_ARGS[@]}"} >"$dir/logs/format.log" 2>&1 \
      || { cat "$dir/logs/format.log" >&2; die "formatting the KRaft storage failed"; }
  fi
  # setsid: the broker outlives the shell that started it (make dev, tests).
  ( exec setsid "${JVM[@]}" kafka.Kafka "$dir/server.properties" >"$dir/logs/stdout.log" 2>&1 </dev/null ) &
  echo $! >"$pidfile"
  for _ in $(seq 1 120); do
    if answering; then
      echo "Kafka $(ls "$lib" | sed -n 's/^kafka_2.13-\(.*\)\.jar$/\1/p') (KRaft) ready; data in $dir" >&2
      [[ -z "$scram_port" ]] || echo "SCRAM over TLS (SASL_SSL) on 127.0.0.1:$scram_port" >&2
      echo "$bootstrap"
      return 0
    fi
    running || { tail -n 30 "$dir/logs/stdout.log" "$dir/logs/server.log" >&2 2>/dev/null; die "the broker exited during start-up"; }
    sleep 0.5
  done
  die "the broker did not answer on $bootstrap within 60 s (see $dir/logs)"
}

stop() {
  if running; then
    local pid
    pid="$(cat "$pidfile")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  reset) stop; rm -rf "$dir" ;;
  fetch) jars ;;
  status) if running && answering; then echo "$bootstrap"; else exit 1; fi ;;
  *) echo "usage: $0 start|stop|reset|status|fetch" >&2; exit 2 ;;
esac
