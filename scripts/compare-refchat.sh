#!/usr/bin/env bash
# Measures hubbub against the lean Go line server ../shared/refchat for every row of issue 18's
# table, with `hubbub bench`: for each row, RUNS rounds, each round one run of every server in
# turn (refchat, then each hubbub), each run on a fresh server process on random high ports.
# It prints, per row and server, the median of the runs and the ratio to refchat's median, and
# each round's own ratio (runs side by side move together on a loaded box).
#
# Usage: scripts/compare-refchat.sh [RUNS] [OUT.jsonl] [ROW...]
#   RUNS  rounds per row (default 5); OUT  every result as one JSON line (default
#   /tmp/hubbub-compare-refchat.jsonl); ROW  among fanout paced quote echo conns ws ws-idle
#   (default: all). conns (10,000 users registering) gives two rows of the table: the time
#   to register them all and the RSS per idle registered connection.
# Environment:
#   HUBBUBS   "LABEL=BINARY ..." hubbub servers to measure (default: "hubbub=" a build of
#             this tree), e.g. HUBBUBS="before=/tmp/me/hubbub-main after=/tmp/me/hubbub"
#   REFCHAT   refchat binary (default: built from ../shared/refchat)
#   BENCH     binary whose `bench` is the client (default: the first hubbub)
#   LOCK      a lock file held through each round, so that runs of several people do not overlap
#             (default /tmp/bench.lock; empty: none)
# Each run of a row is bounded by the bench's --timeout; hubbub runs with --line-rate 0
# --no-history as in the issue, every other service off, and the full-speed fan-outs with
# refchat's 4 MiB queue per reader (--max-queue 4194304).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
out=${2:-/tmp/hubbub-compare-refchat.jsonl}
shift $(( $# < 2 ? $# : 2 ))
rows=("$@")
[ ${#rows[@]} -gt 0 ] || rows=(fanout paced quote echo conns ws ws-idle)
tmp=$(mktemp -d)
if [ -z "${HUBBUBS:-}" ]; then
  go build -o "$tmp/hubbub" ./cmd/hubbub
  HUBBUBS="hubbub=$tmp/hubbub"
fi
if [ -z "${REFCHAT:-}" ]; then
  (cd ../shared/refchat && go build -o "$tmp/refchat" .)
  REFCHAT=$tmp/refchat
fi
read -r -a hubbubs <<< "$HUBBUBS"
BENCH=${BENCH:-${hubbubs[0]#*=}}
lock=${LOCK-/tmp/bench.lock}
: > "$out"
[ -z "$lock" ] || exec 9>>"$lock"

server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

port() { echo $((20000 + RANDOM % 40000)); }

# wait_port PORT: until something listens there (at most 10 s).
wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on $1" >&2
  return 1
}

# run ROW LABEL BINARY ROUND: one fresh server, one bench run, one JSON line in $out.
run() {
  local row=$1 label=$2 bin=$3 round=$4 p
  p=$(port)
  local off=(--line-rate 0 --no-history --chat-addr= --irc-addr= --quote-addr= --echo-addr= --http-addr= --admin-addr=)
  # The full-speed fan-outs queue up to refchat's 4 MiB per reader, as refchat does: at
  # hubbub's default (256 KiB) a reader of the bench that falls further behind has lines
  # skipped (and is told), which the bench counts as lost.
  case $row in fanout|ws) off+=(--max-queue 4194304) ;; esac
  local srv args addr=127.0.0.1:$p
  case $row in
    fanout|paced|conns|ws|ws-idle) srv=("$bin" "${off[@]}" --chat-addr "$addr") ;;&
    ws|ws-idle) srv=("$bin" "${off[@]}" --http-addr "$addr") ;;&
    quote) srv=("$bin" "${off[@]}" --quote-addr "$addr") ;;&
    echo) srv=("$bin" "${off[@]}" --echo-addr "$addr") ;;&
    *) ;;
  esac
  if [ "$label" = refchat ]; then
    case $row in
      quote|echo) srv=("$bin" -mode "$row" -addr "$addr") ;;
      *) srv=("$bin" -addr "$addr") ;;
    esac
  fi
  case $row in
    fanout) args=(fanout --users 100 --senders 10 --msgs 5000) ;;
    paced) args=(fanout --users 100 --senders 10 --msgs 300 --rate 100) ;;
    quote) args=(quote --conns 30000 --in-flight 1000) ;;
    echo) args=(echo --conns 50 --bytes 64 --duration 5s) ;;
    conns) args=(conns --conns 10000 --timeout 10m) ;;
    ws) args=(fanout --ws --users 100 --senders 10 --msgs 5000) ;;
    ws-idle) args=(conns --ws --conns 10000 --timeout 10m) ;;
  esac
  "${srv[@]}" >"$tmp/server.log" 2>&1 &
  server=$!
  wait_port "$p"
  "$BENCH" bench "${args[@]}" --addr "$addr" --pid "$server" --json >"$tmp/run.json" 2>"$tmp/run.err" || true
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  server=
  python3 - "$tmp/run.json" "$row" "$label" "$round" "$(uptime)" >> "$out" <<'PY'
import json, sys
path, row, label, rnd, up = sys.argv[1:]
try:
    r = json.load(open(path))
except Exception as e:
    r = {"failures": ["no result: %s" % e]}
r.update(row=row, label=label, round=int(rnd), uptime=up.strip())
print(json.dumps(r))
PY
  tail -1 "$out" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["row"], r["label"], r["round"], {k: round(v, 1) for k, v in r.get("rates", {}).items()}, "cpu", (r.get("server") or {}).get("cpu_seconds"), "failures", r.get("failures") or "none", file=sys.stderr)'
}

# ws rows have no refchat run: they are read against the TCP fan-out of the same servers.
for row in "${rows[@]}"; do
  for round in $(seq "$runs"); do
    servers=()
    case $row in ws|ws-idle) ;; *) servers+=("refchat=$REFCHAT") ;; esac
    servers+=("${hubbubs[@]}")
    # One round holds the lock throughout: its servers are measured side by side.
    [ -z "$lock" ] || flock 9
    for s in "${servers[@]}"; do
      run "$row" "${s%%=*}" "${s#*=}" "$round"
    done
    [ -z "$lock" ] || flock -u 9
  done
done

python3 - "$out" <<'PY'
import json, sys, statistics
from collections import defaultdict

def pct(r, q):
    for h in ("delivery", "answer", "rtt"):
        hist = (r.get("latency") or {}).get(h)
        if not hist:
            continue
        n = sum(c for _, c in hist["buckets"]); rank = max(1, int(q * n + 0.5)); seen = 0
        for i, c in hist["buckets"]:
            seen += c
            if seen >= rank:
                if i < 64:
                    return i
                e = (i - 64) // 64 + 6; sub = (i - 64) % 64
                return ((64 + sub) << (e - 6)) + (1 << (e - 6)) // 2
    return None

# What each row of the table reads from a run, and whether more is better.
def figure(row, r):
    rates, srv, counts = r.get("rates", {}), r.get("server") or {}, r.get("counts", {})
    if row in ("fanout", "ws"):
        d = counts.get("deliveries") or 0
        return [("deliveries/s", rates.get("deliveries_per_s"), True),
                ("server CPU ns/delivery", srv.get("cpu_seconds", 0) * 1e9 / d if d else None, False)]
    if row == "paced":
        p = pct(r, 0.99)
        return [("p99 ms", p / 1e6 if p else None, False)]
    if row == "quote":
        a = counts.get("answers") or 0
        return [("conns/s", rates.get("conns_per_s"), True),
                ("server CPU us/conn", srv.get("cpu_seconds", 0) * 1e6 / a if a else None, False)]
    if row == "echo":
        t = counts.get("round_trips") or 0
        return [("round trips/s", rates.get("round_trips_per_s"), True),
                ("server CPU us/round trip", srv.get("cpu_seconds", 0) * 1e6 / t if t else None, False)]
    if row in ("conns", "ws-idle"):
        rss = rates.get("server_rss_per_conn_bytes")
        return [("register 10,000 s", rates.get("register_seconds"), False),
                ("RSS KB/idle conn", rss / 1000 if rss else None, False)]
    return []

runs = defaultdict(list)  # (row, label) -> results
for line in open(sys.argv[1]):
    r = json.loads(line)
    runs[(r["row"], r["label"])].append(r)
rowsSeen = list(dict.fromkeys(k[0] for k in runs))
for row in rowsSeen:
    labels = [l for (rw, l) in runs if rw == row]
    print(f"== {row}  ({len(runs[(row, labels[0])])} runs each; loads: "
          f"{sorted(set(r['uptime'].split('load average:')[-1].split(',')[0].strip() for l in labels for r in runs[(row, l)]))})")
    bad = [(l, r["round"], r.get("failures")) for l in labels for r in runs[(row, l)] if r.get("failures")]
    for l, rnd, f in bad:
        print(f"   run {rnd} of {l} FAILED: {f}")
    names = [n for n, _, _ in figure(row, runs[(row, labels[0])][0])]
    for i, name in enumerate(names):
        med = {}
        for l in labels:
            vals = [figure(row, r)[i][1] for r in runs[(row, l)] if not r.get("failures")]
            vals = [v for v in vals if v is not None]
            med[l] = statistics.median(vals) if vals else None
            print(f"   {name:26} {l:10} median {med[l] if med[l] is not None else float('nan'):>14,.2f}   runs {[round(v, 2) for v in vals]}")
        ref = med.get("refchat")
        if ref is None and row in ("ws", "ws-idle"):
            # The goal is against TCP: the fan-out (or conns) row of the same labels.
            tcp = {"ws": "fanout", "ws-idle": "conns"}[row]
            for l in labels:
                tv = [figure(tcp, r)[i][1] for r in runs.get((tcp, l), []) if not r.get("failures")]
                tv = [v for v in tv if v is not None]
                if tv and med[l]:
                    print(f"   {'':26} {l:10} / its TCP median {med[l] / statistics.median(tv):.2f}")
            continue
        for l in labels:
            if l == "refchat" or ref in (None, 0) or med[l] is None:
                continue
            rounds = {}
            for r in runs[(row, l)]:
                mine = figure(row, r)[i][1]
                theirs = [figure(row, x)[i][1] for x in runs[(row, "refchat")] if x["round"] == r["round"]]
                if mine is not None and theirs and theirs[0] and not r.get("failures"):
                    rounds[r["round"]] = mine / theirs[0]
            print(f"   {'':26} {l:10} / refchat: of medians {med[l] / ref:.2f}, median of rounds "
                  f"{statistics.median(rounds.values()) if rounds else float('nan'):.2f} {[round(v, 2) for v in rounds.values()]}")
PY
