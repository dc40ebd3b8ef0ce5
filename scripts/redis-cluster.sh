#!/usr/bin/env bash
# A real Redis Cluster on 127.0.0.1 for the tests: three primaries and three replicas
# (`redis-server --cluster-enabled yes` x 6, joined by `redis-cli --cluster create`), on
# REDIS_CLUSTER_BASE_PORT (default 7001) and the five ports after it. Idempotent: a cluster
# already answering `cluster_state:ok` is left as it is.
#   scripts/redis-cluster.sh start   start (or reuse) it and wait until every slot is served
#   scripts/redis-cluster.sh stop    shut the six servers down and forget their state
# The tests find it through TEST_REDIS_CLUSTER_NODES (default 127.0.0.1:7001..7006).
set -euo pipefail
base=${REDIS_CLUSTER_BASE_PORT:-7001}
dir=${REDIS_CLUSTER_DIR:-/var/lib/redis-cluster}
ports=$(seq "$base" $((base + 5)))

cluster_ok() {
  for port in $ports; do
    redis-cli -h 127.0.0.1 -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
  done
}

case "${1:-}" in
  start)
    if cluster_ok; then
      echo "redis cluster on 127.0.0.1:${base}..$((base + 5)): already up"
      exit 0
    fi
    # Half-started leftovers (a previous run stopped midway) would refuse to join: start clean.
    for port in $ports; do redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true; done
    rm -rf "$dir"
    for port in $ports; do
      mkdir -p "$dir/$port"
      redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --cluster-enabled yes \
        --cluster-config-file "$dir/$port/nodes.conf" --cluster-node-timeout 2000 \
        --save "" --appendonly no --dir "$dir/$port" --logfile "$dir/$port/redis.log"
    done
    for port in $ports; do
      for _ in $(seq 1 50); do
        redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && break
        sleep 0.1
      done
    done
    addresses=$(for port in $ports; do printf '127.0.0.1:%s ' "$port"; done)
    # shellcheck disable=SC2086 # one argument per address
    redis-cli --cluster create $addresses --cluster-replicas 1 --cluster-yes >/dev/null
    for _ in $(seq 1 100); do
      if cluster_ok; then
        echo "redis cluster on 127.0.0.1:${base}..$((base + 5)): up (3 primaries, 3 replicas)"
        exit 0
      fi
      sleep 0.2
    done
    echo "redis cluster on 127.0.0.1:${base}..$((base + 5)) did not reach cluster_state:ok" >&2
    exit 1
    ;;
  stop)
    for port in $ports; do redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true; done
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
