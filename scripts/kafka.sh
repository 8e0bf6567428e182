#!/usr/bin/env bash
# Provision and run a real Apache Kafka 4.1 broker (KRaft, single node: broker and controller in one
# JVM) on loopback, from Maven Central jars.
#
#   scripts/kafka.sh install            fetch the jars into .cache/kafka/libs if absent (~40 s cold, 43 MB)
#   scripts/kafka.sh start <dir>        format <dir> and start a broker on free loopback ports;
#                                       prints "brokers=127.0.0.1:<port> pid=<pid>" once the port answers
#   scripts/kafka.sh start <dir> <port> <controller port>   the same on given ports (a restart on the same data)
#
# Readiness here is "the broker's port accepts connections"; clients then poll the cluster with
# kafkajs `admin.describeCluster()` (test/support/kafkaServer.ts) — never a fixed sleep.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
CACHE="${BOT4_KAFKA_CACHE:-$ROOT/.cache/kafka}"
LIBS="$CACHE/libs"
KAFKA_VERSION=4.1.1
LOG4J_VERSION=2.24.3

install() {
  if [ -f "$LIBS/.complete" ]; then return 0; fi
  command -v java >/dev/null || { echo "kafka.sh: java (17+) is required" >&2; exit 1; }
  command -v mvn >/dev/null || { echo "kafka.sh: mvn is required to fetch the Kafka jars" >&2; exit 1; }
  mkdir -p "$CACHE"
  cat >"$CACHE/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>bot4</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$LOG4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$LOG4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-api</artifactId><version>$LOG4J_VERSION</version></dependency>
  </dependencies>
</project>
POM
  echo "kafka.sh: fetching Kafka $KAFKA_VERSION jars from Maven Central into $LIBS" >&2
  rm -rf "$LIBS"
  (cd "$CACHE" && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIBS" >&2)
  cat >"$CACHE/log4j2.properties" <<'PROPS'
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = warn
PROPS
  touch "$LIBS/.complete"
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

start() {
  local dir="$1" port="${2:-}" cport="${3:-}"
  install
  mkdir -p "$dir/data"
  [ -n "$port" ] || port="$(free_port)"
  [ -n "$cport" ] || cport="$(free_port)"
  cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
controller.quorum.bootstrap.servers=127.0.0.1:$cport
log.dirs=$dir/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.cleaner.dedupe.buffer.size=8388608
PROPS
  if [ ! -f "$dir/cluster.id" ]; then
    head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$dir/cluster.id"
  fi
  java -cp "$LIBS/*" -Dlog4j2.configurationFile="$CACHE/log4j2.properties" kafka.tools.StorageTool format \
    -t "$(cat "$dir/cluster.id")" -c "$dir/server.properties" --standalone --ignore-formatted >"$dir/format.log" 2>&1 || {
    echo "kafka.sh: formatting $dir failed:" >&2
    cat "$dir/format.log" >&2
    exit 1
  }
  nohup java -Xms256m -Xmx256m -XX:+UseG1GC -cp "$LIBS/*" -Dlog4j2.configurationFile="$CACHE/log4j2.properties" \
    kafka.Kafka "$dir/server.properties" >"$dir/kafka.log" 2>&1 &
  local pid=$!
  echo "$pid" >"$dir/kafka.pid"
  for _ in $(seq 1 1200); do
    if node -e 'const s=require("net").connect(+process.argv[1],"127.0.0.1");s.on("connect",()=>process.exit(0));s.on("error",()=>process.exit(1))' "$port" 2>/dev/null; then
      echo "brokers=127.0.0.1:$port pid=$pid"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "kafka.sh: the broker exited; log:" >&2
      cat "$dir/kafka.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "kafka.sh: the broker did not open port $port within 120 s" >&2
  kill "$pid" || true
  exit 1
}

case "${1:-}" in
  install) install ;;
  start) start "${2:?usage: kafka.sh start <data dir> [port controller-port]}" "${3:-}" "${4:-}" ;;
  *) echo "usage: kafka.sh install | start <data dir> [port controller-port]" >&2; exit 2 ;;
esac
