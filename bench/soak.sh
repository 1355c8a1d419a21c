#!/usr/bin/env bash
# soak.sh — ten minutes of navigations through earlyhints, then a check that
# it did not fail a request or keep what it no longer needs.
#
# The origin (bench/origin) thinks THINK before each page; h2load loads the
# proxy over TLS + HTTP/2 for DURATION with navigation headers. Before and
# after, the proxy's own /metrics (admin listener) give its resident memory
# and goroutines; the run fails when a request failed or either grew past
# its bound. With BEFORE_REV set, a short load of the same shape runs against
# that revision and this one, and the sockets to the origin left in
# TIME_WAIT are counted for both (the idle-pool comparison).
#
#   bench/soak.sh                                  # 10 minutes, 50 connections x 10 streams
#   DURATION=60 bench/soak.sh                      # a shorter run
#   BEFORE_REV=6edb90b TW_SECONDS=30 bench/soak.sh # also compare TIME_WAIT with an older build
#   BEFORE_REV=6edb90b DURATION=0 bench/soak.sh    # only the TIME_WAIT comparison
#
# Run it by hand; it is not part of `make test`. It takes both cores of a
# small machine: NICE (default 10) keeps it behind interactive work.
set -euo pipefail

DURATION=${DURATION:-600}    # seconds of load
C=${C:-50}                   # h2load connections
M=${M:-10}                   # streams per connection: C*M requests in flight
THINK=${THINK:-50ms}         # origin think time before each page
NICE=${NICE:-10}
BEFORE_REV=${BEFORE_REV:-}   # a git revision to compare TIME_WAIT with (empty: no comparison)
TW_SECONDS=${TW_SECONDS:-30} # seconds of load for each TIME_WAIT count
RSS_SLACK_MB=${RSS_SLACK_MB:-64}      # end RSS may exceed start by this much (plus 50%)
GOROUTINE_SLACK=${GOROUTINE_SLACK:-100}

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
for tool in go h2load curl ss awk nice timeout; do
    command -v "$tool" >/dev/null || { echo "soak.sh: $tool is missing; install it (h2load: apt-get install nghttp2-client, ss: iproute2)" >&2; exit 1; }
done
WORK=$(mktemp -d /tmp/eh-soak.XXXXXX)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ -n "${KEEP:-}" ] && echo "work directory kept: $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "soak: $*" >&2; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

log "building…"
(cd "$ROOT" && go build -o "$WORK/earlyhints" ./cmd/earlyhints && go build -o "$WORK/origin" ./bench/origin)
if [ -n "$BEFORE_REV" ]; then
    git -C "$ROOT" worktree add --detach "$WORK/before-src" "$BEFORE_REV" >/dev/null 2>&1
    (cd "$WORK/before-src" && go build -o "$WORK/earlyhints-before" ./cmd/earlyhints)
    git -C "$ROOT" worktree remove --force "$WORK/before-src"
fi

OPORT=$(free_port)
nice -n "$NICE" "$WORK/origin" -listen "127.0.0.1:$OPORT" -think "$THINK" 2>"$WORK/origin.log" &
PIDS+=($!)

# start_proxy BINARY: runs it, sets PPORT, APORT and PROXY_PID.
start_proxy() {
    PPORT=$(free_port)
    APORT=$(free_port)
    nice -n "$NICE" "$1" proxy --origin "http://127.0.0.1:$OPORT" --listen "127.0.0.1:$PPORT" \
        --admin "127.0.0.1:$APORT" --http3=false --log-format json >"$WORK/proxy.out" 2>"$WORK/proxy.log" &
    PROXY_PID=$!
    PIDS+=("$PROXY_PID")
    for _ in $(seq 100); do
        curl -skf "https://127.0.0.1:$PPORT/" -o /dev/null 2>/dev/null && return 0
        sleep 0.1
    done
    log "the proxy did not start:"; cat "$WORK/proxy.log" >&2; exit 1
}
stop_proxy() { kill "$PROXY_PID" 2>/dev/null || true; wait "$PROXY_PID" 2>/dev/null || true; }

metric() { # metric NAME: a value from the proxy's /metrics
    curl -sf "http://127.0.0.1:$APORT/metrics" | awk -v m="$1" '$1 == m { printf "%d\n", $2 }'
}
# h2load counts the 103 Early Hints in its "3xx" column; the access log
# has the final statuses.
load() { # load SECONDS: h2load navigations; prints its summary lines
    nice -n "$NICE" h2load -D "$1" -c "$C" -m "$M" -t 1 \
        -H 'accept: text/html' -H 'sec-fetch-mode: navigate' -H 'sec-fetch-dest: document' \
        "https://127.0.0.1:$PPORT/" 2>&1 | grep -E '^(requests|status codes|finished in|req/s)'
}
time_wait() { ss -Htan state time-wait "( dport = :$OPORT )" | wc -l; }
# Sockets stay in TIME_WAIT for 60 s on Linux: each count starts from none.
drain_time_wait() {
    for _ in $(seq 75); do [ "$(time_wait)" = 0 ] && return 0; sleep 1; done
    log "TIME_WAIT to the origin did not drain; counts include older sockets"
}

if [ -n "$BEFORE_REV" ]; then
    for build in before now; do
        bin="$WORK/earlyhints"
        [ "$build" = before ] && bin="$WORK/earlyhints-before"
        drain_time_wait
        start_proxy "$bin"
        load "$TW_SECONDS" >"$WORK/tw-$build.txt"
        tw=$(time_wait)
        stop_proxy
        log "TIME_WAIT to the origin after ${TW_SECONDS}s of load, $build ($([ "$build" = before ] && echo "$BEFORE_REV" || echo HEAD)): $tw"
        grep '^requests' "$WORK/tw-$build.txt" >&2
    done
fi
[ "$DURATION" = 0 ] && exit 0

start_proxy "$WORK/earlyhints"
load 10 >/dev/null # warm up: connections, learning, the heap's working size
sleep 2
rss0=$(metric process_resident_memory_bytes)
gr0=$(metric go_goroutines)
log "start: RSS $((rss0 >> 20)) MiB, $gr0 goroutines; loading for ${DURATION}s ($C connections x $M streams, think $THINK)"
load "$DURATION" | tee "$WORK/soak.txt" >&2
rss1=$(metric process_resident_memory_bytes)
gr1=$(metric go_goroutines)
sleep 5 # idle: connections close, goroutines end
rss2=$(metric process_resident_memory_bytes)
gr2=$(metric go_goroutines)
log "end of load: RSS $((rss1 >> 20)) MiB, $gr1 goroutines; 5 s later: RSS $((rss2 >> 20)) MiB, $gr2 goroutines"
log "access log outcomes: $(awk -F'"outcome":"' 'NF > 1 { split($2, a, "\""); n[a[1]]++ } END { for (k in n) printf "%s=%d ", k, n[k] }' "$WORK/proxy.log")"

fail=0
failed=$(awk '/^requests:/ { for (i = 1; i <= NF; i++) if ($(i+1) ~ /^failed/) print $i }' "$WORK/soak.txt" | head -1)
if [ "${failed:-1}" != 0 ]; then log "FAIL: $failed requests failed"; fail=1; fi
if [ "$rss2" -gt $(( rss0 * 3 / 2 + (RSS_SLACK_MB << 20) )) ]; then log "FAIL: RSS grew from $rss0 to $rss2 bytes"; fail=1; fi
if [ "$gr2" -gt $(( gr0 + GOROUTINE_SLACK )) ]; then log "FAIL: goroutines grew from $gr0 to $gr2"; fail=1; fi
[ "$fail" = 0 ] && log "PASS: 0 failed requests; RSS ${rss0} -> ${rss2} bytes ($(awk -v a="$rss0" -v b="$rss2" 'BEGIN { printf "%.2f", b / a }')x), goroutines $gr0 -> $gr2"
exit "$fail"
