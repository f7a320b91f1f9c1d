#!/usr/bin/env bash
# Starts three hubbub nodes on this machine as one chat over NATS JetStream (docs/cluster.md):
#
#   scripts/cluster.sh embedded   three nodes, each with an embedded NATS server, routed together
#   scripts/cluster.sh external   three nats-server processes (built from the module's own
#                                 dependency), then three nodes with --nats
#   scripts/cluster.sh status     the nodes' /readyz and /healthz
#   scripts/cluster.sh stop       stops what this script started
#
# HUBBUB_CLUSTER_NODES (default 3, from 1 to 6) starts that many nodes instead, named a, b, c...
# (the benchmarks use 4). Everything listens on 127.0.0.1. Ports: node i (0, 1, 2...) uses BASE+10*i and up: chat +0,
# web page +1, admin +2, embedded NATS client +3 and routes +4, the external nats-server's
# client +5 and routes +6, IRC +7. BASE is $HUBBUB_CLUSTER_BASE (default 17000). Data, logs and pid files
# go to $HUBBUB_CLUSTER_DIR (default /tmp/hubbub-cluster); `stop` leaves them, delete the
# directory to start afresh. Extra arguments after the mode go to every hubbub node.
set -euo pipefail
cd "$(dirname "$0")/.."
base=${HUBBUB_CLUSTER_BASE:-17000}
dir=${HUBBUB_CLUSTER_DIR:-/tmp/hubbub-cluster}
mode=${1:-}
shift || true
count=${HUBBUB_CLUSTER_NODES:-3}
[[ $count =~ ^[1-6]$ ]] || { echo "HUBBUB_CLUSTER_NODES must be from 1 to 6, not $count" >&2; exit 2; }
nodes=(a b c d e f)
nodes=("${nodes[@]:0:count}")

port() { echo $((base + 10 * $1 + $2)); } # NODE OFFSET

# start NAME LOGFILE CMD... runs CMD in the background and records its pid.
start() {
  local name=$1 log=$2
  shift 2
  nohup "$@" >"$log" 2>&1 &
  echo $! >"$dir/pids/$name"
}

build() {
  mkdir -p "$dir/bin" "$dir/pids" "$dir/logs"
  go build -o "$dir/bin/hubbub" ./cmd/hubbub
}

running() {
  local f
  for f in "$dir"/pids/*; do
    [[ -e $f ]] && kill -0 "$(cat "$f")" 2>/dev/null && return 0
  done
  return 1
}

# node I ARGS... starts hubbub node I.
node() {
  local i=$1
  shift
  start "hubbub-${nodes[$i]}" "$dir/logs/hubbub-${nodes[$i]}.log" "$dir/bin/hubbub" \
    --node-name "${nodes[$i]}" --data-dir "$dir/data/${nodes[$i]}" \
    --chat-addr "127.0.0.1:$(port "$i" 0)" --http-addr "127.0.0.1:$(port "$i" 1)" \
    --admin-addr "127.0.0.1:$(port "$i" 2)" --irc-addr "127.0.0.1:$(port "$i" 7)" \
    --quote-addr= --echo-addr= "$@"
}

wait_ready() {
  local i deadline=$((SECONDS + 150))
  for i in "${!nodes[@]}"; do
    until curl -fsS "http://127.0.0.1:$(port "$i" 2)/readyz" >/dev/null 2>&1; do
      if ((SECONDS > deadline)); then
        echo "node ${nodes[$i]} is not ready; its log: $dir/logs/hubbub-${nodes[$i]}.log" >&2
        tail -5 "$dir/logs/hubbub-${nodes[$i]}.log" >&2
        exit 1
      fi
      sleep 0.5
    done
  done
}

where() {
  local i
  echo "${#nodes[@]} hubbub nodes are up ($mode NATS); connect to any of them:"
  for i in "${!nodes[@]}"; do
    echo "  node ${nodes[$i]}: nc 127.0.0.1 $(port "$i" 0)   http://127.0.0.1:$(port "$i" 1)/   irc 127.0.0.1:$(port "$i" 7)   admin http://127.0.0.1:$(port "$i" 2)/healthz"
  done
  echo "logs in $dir/logs; stop with: $0 stop"
}

case $mode in
embedded)
  running && { echo "already running; $0 stop first" >&2; exit 1; }
  build
  routes=$(for i in "${!nodes[@]}"; do printf 'nats://127.0.0.1:%s,' "$(port "$i" 4)"; done)
  for i in "${!nodes[@]}"; do
    node "$i" --nats-embedded --nats-listen "127.0.0.1:$(port "$i" 3)" \
      --nats-cluster-listen "127.0.0.1:$(port "$i" 4)" --nats-routes "${routes%,}" "$@"
  done
  wait_ready
  where
  ;;
external)
  running && { echo "already running; $0 stop first" >&2; exit 1; }
  build
  # The nats-server of the version hubbub is built against, from the module cache.
  go build -o "$dir/bin/nats-server" github.com/nats-io/nats-server/v2
  routes=$(for i in "${!nodes[@]}"; do printf 'nats://127.0.0.1:%s,' "$(port "$i" 6)"; done)
  urls=$(for i in "${!nodes[@]}"; do printf 'nats://127.0.0.1:%s,' "$(port "$i" 5)"; done)
  for i in "${!nodes[@]}"; do
    mkdir -p "$dir/nats/${nodes[$i]}"
    start "nats-${nodes[$i]}" "$dir/logs/nats-${nodes[$i]}.log" "$dir/bin/nats-server" \
      -a 127.0.0.1 -p "$(port "$i" 5)" -n "nats-${nodes[$i]}" -js -sd "$dir/nats/${nodes[$i]}" \
      --cluster_name hubbub --cluster "nats://127.0.0.1:$(port "$i" 6)" --routes "${routes%,}"
  done
  for i in "${!nodes[@]}"; do
    node "$i" --nats "${urls%,}" "$@"
  done
  wait_ready
  where
  ;;
status)
  for i in "${!nodes[@]}"; do
    echo "node ${nodes[$i]}: $(curl -sS "http://127.0.0.1:$(port "$i" 2)/readyz" 2>&1 | head -1)"
    curl -sS "http://127.0.0.1:$(port "$i" 2)/healthz" 2>/dev/null | sed 's/^/    /' || true
  done
  ;;
stop)
  # hubbub nodes first (they say goodbye and close their NATS connection), then nats-servers.
  for kind in hubbub nats; do
    pids=()
    for f in "$dir"/pids/"$kind"-*; do
      [[ -e $f ]] || continue
      pid=$(cat "$f")
      kill "$pid" 2>/dev/null && pids+=("$pid")
      rm -f "$f"
    done
    for pid in "${pids[@]}"; do
      while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
    done
  done
  echo "stopped"
  ;;
*)
  echo "usage: $0 embedded|external|status|stop [hubbub flags...]" >&2
  exit 2
  ;;
esac
