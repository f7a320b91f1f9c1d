#!/usr/bin/env bash
# Measures hubbub and the Twisted originals in one sitting with `hubbub bench`, as in
# docs/benchmarks.md. Needs python3-twisted (apt-get install -y python3-twisted) and ../shared/seed.
# hubbub runs with --line-rate 0 (its default 10 lines/s would pace the senders) and a 64 MiB
# --max-queue (the 1:1 sender outruns its one receiver, which the default 256 KiB would drop as
# a slow consumer; the original buffers without any bound).
# Usage: scripts/compare.sh [RUNS] [OUT.jsonl]   (each result is one JSON line in OUT)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
out=${2:-/tmp/hubbub-compare.jsonl}
seed=../shared/seed
bin=$(mktemp -d)/hubbub
go build -o "$bin" ./cmd/hubbub
: > "$out"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; }
trap cleanup EXIT

# Each start_ function sets $last to the new process's pid.
start_hubbub() {
  "$bin" --line-rate 0 --max-queue 67108864 --chat-addr 127.0.0.1:8000 --quote-addr 127.0.0.1:9000 --echo-addr 127.0.0.1:8007 >/dev/null 2>&1 &
  last=$!; pids+=($last); sleep 0.5
}
start_twisted() { # FILE PORT
  /usr/bin/python3 "$seed/$1" "$2" >/dev/null 2>&1 &
  last=$!; pids+=($last); sleep 1
}
bench() { # LABEL PID ARGS...
  local label=$1 pid=$2; shift 2
  for _ in $(seq "$runs"); do
    "$bin" bench "$@" --pid "$pid" --json --timeout 5m |
      python3 -c 'import json,sys; r=json.load(sys.stdin); r["label"]=sys.argv[1]; r["args"]=sys.argv[2]; print(json.dumps(r))' "$label" "$*" >> "$out"
  done
}

start_hubbub; h=$last
start_twisted chat_twisted_bytesfix.py 8100; tc=$last
start_twisted quote_twisted.py 9100; tq=$last
start_twisted echo_twisted.py 8107; te=$last

for target in "hubbub $h 8000 9000 8007" "twisted $tc 8100 9100 8107"; do
  set -- $target; name=$1 pid=$2 chat=127.0.0.1:$3 quote=127.0.0.1:$4 echo=127.0.0.1:$5
  [ "$name" = twisted ] && qpid=$tq && epid=$te || { qpid=$pid; epid=$pid; }
  bench "$name fanout-100" "$pid" fanout --addr "$chat" --users 100 --senders 10 --msgs 1000
  bench "$name fanout-1000" "$pid" fanout --addr "$chat" --users 1000 --senders 10 --msgs 200
  bench "$name one-to-one" "$pid" fanout --addr "$chat" --users 2 --senders 1 --msgs 100000
  bench "$name paced" "$pid" fanout --addr "$chat" --users 100 --senders 10 --msgs 300 --rate 100
  bench "$name quote" "$qpid" quote --addr "$quote" --conns 30000 --in-flight 1000
  bench "$name echo" "$epid" echo --addr "$echo" --conns 50 --bytes 64 --duration 5s
done
# One run each: 10,000 registrations take a minute on the original.
runs=1
bench "hubbub conns-10k" "$h" conns --addr 127.0.0.1:8000 --conns 10000
bench "twisted conns-10k" "$tc" conns --addr 127.0.0.1:8100 --conns 10000

python3 - "$out" <<'PY'
import json, sys, statistics
from collections import defaultdict
rows = defaultdict(list)
for line in open(sys.argv[1]):
    r = json.loads(line); rows[r["label"]].append(r)
def p(r, h, q):
    hist = r["latency"].get(h)
    if not hist: return None
    n = sum(c for _, c in hist["buckets"]); rank = max(1, int(q*n + 0.5)); seen = 0
    for i, c in hist["buckets"]:
        seen += c
        if seen >= rank:
            if i < 64: return i
            e = (i-64)//64 + 6; sub = (i-64) % 64; return ((64+sub) << (e-6)) + (1 << (e-6))//2
for label, rs in rows.items():
    rate = [v for r in rs for k, v in r["rates"].items() if k.endswith("_per_s")]
    p99 = [p(r, h, 0.99) for r in rs for h in ("delivery", "answer", "rtt") if p(r, h, 0.99) is not None]
    extra = {k: rs[0]["rates"][k] for k in rs[0]["rates"] if not k.endswith("_per_s")}
    srv = rs[0].get("server") or {}
    print(f"{label:22} rate median {statistics.median(rate) if rate else 0:>12,.0f}/s  runs {[round(x) for x in rate]}  "
          f"p99 median {statistics.median(p99)/1e6 if p99 else 0:.2f} ms  peak RSS {srv.get('peak_rss_bytes',0)/2**20:.0f} MB  "
          f"{ {k: round(v, 2) for k, v in extra.items()} }  lost {sum(r['counts'].get('lost',0) for r in rs)}  errors {sum(sum(r['errors'].values()) for r in rs)}")
PY
