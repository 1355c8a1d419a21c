#!/usr/bin/env bash
# profile.sh — CPU and allocation profiles of earlyhints proxy under a
# CPU-bound h2load load (no think time), one proxy process per kind of
# traffic, so each profile holds one kind only:
#
#   plain   requests without navigation headers (nothing to hint)
#   nav     navigations that get a 103 of learned hints
#   cookie  the same navigations carrying a realistic Cookie
#
#   bench/profile.sh                     # all three, N=30000 each
#   LOADS="cookie" N=50000 bench/profile.sh
#   OUT=/tmp/prof bench/profile.sh       # where the profiles and summaries go
#   PAGE_BYTES=20480 bench/profile.sh    # the origin's page padded to 20 KiB
#
# The proxy runs as bench/ehprof (cmd/earlyhints with runtime/pprof around
# it). For each load it writes LOAD.cpu.pprof, LOAD.allocs.pprof and
# LOAD.top.txt (go tool pprof -top, CPU then allocated bytes). Run by hand;
# every process is started here and stopped by its PID.
set -euo pipefail

N=${N:-30000}
C=${C:-20}
M=${M:-10}
LOADS=${LOADS:-"plain nav cookie"}
PAGE_BYTES=${PAGE_BYTES:-0}
RUN_TIMEOUT=${RUN_TIMEOUT:-120}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
OUT=${OUT:-$(mktemp -d /tmp/eh-profile.XXXXXX)}
mkdir -p "$OUT"
COOKIE_VALUE='_ga=GA1.2.1234567890.1732900000; _gid=GA1.2.987654321.1733000000; _fbp=fb.1.1732900000000.1234567890; cookieconsent_status=dismiss; OptanonConsent=isGpcEnabled=0&datestamp=Mon+Dec+02+2026&version=202411.1.0&groups=C0001%3A1%2CC0002%3A1; sessionid=9f8e7d6c5b4a39281706f5e4d3c2b1a0; csrftoken=Zx8YwVuTsRqPoNmLkJiHgFeDcBa98765'

for tool in go h2load curl openssl python3 timeout; do
    command -v "$tool" >/dev/null || { echo "profile.sh: $tool is missing (h2load: apt-get install nghttp2-client)" >&2; exit 1; }
done
WORK=$(mktemp -d /tmp/eh-profwork.XXXXXX)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

(cd "$ROOT" && go build -o "$WORK/ehprof" ./bench/ehprof && go build -o "$WORK/origin" ./bench/origin)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
ORIGIN_PORT=$(free_port)
"$WORK/origin" -listen "127.0.0.1:$ORIGIN_PORT" -think 0ms -page-bytes "$PAGE_BYTES" >"$WORK/origin.out" 2>&1 &
PIDS+=($!)

for load in $LOADS; do
    case $load in
    plain) H=(-H 'accept: */*') ;;
    nav) H=(-H 'accept: text/html' -H 'sec-fetch-mode: navigate') ;;
    cookie) H=(-H 'accept: text/html' -H 'sec-fetch-mode: navigate' -H "cookie: $COOKIE_VALUE") ;;
    *) echo "profile.sh: unknown load $load (plain, nav, cookie)" >&2; exit 2 ;;
    esac
    port=$(free_port)
    "$WORK/ehprof" -cpuprofile "$OUT/$load.cpu.pprof" -memprofile "$OUT/$load.allocs.pprof" -- \
        proxy --origin "http://127.0.0.1:$ORIGIN_PORT" --listen "127.0.0.1:$port" --http3=false \
        --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem" --store memory >"$WORK/eh-$load.out" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    for _ in $(seq 100); do curl -sk --max-time 1 -o /dev/null "https://127.0.0.1:$port/s.css" && break; sleep 0.1; done
    # Teach the page (a cookie navigation needs distinct networks, a second apart).
    # Each visitor has a session of its own: one cookie from four networks
    # would count as one person.
    for i in 1 2 3 4; do
        W=("${H[@]}")
        if [[ $load == cookie ]]; then
            W=(-H 'accept: text/html' -H 'sec-fetch-mode: navigate' -H "cookie: ${COOKIE_VALUE/sessionid=/sessionid=visitor$i}")
        fi
        curl -sk --http2 --max-time 10 --interface "127.$i.0.1" "${W[@]}" -o /dev/null "https://127.0.0.1:$port/" || true
        [[ $load == cookie ]] && sleep 1.1
    done
    hinted=$(curl -sk --http2 --max-time 10 "${H[@]}" -D - -o /dev/null "https://127.0.0.1:$port/" | grep -c '^HTTP/2 103' || true)
    echo "== $load: $N requests (-c $C -m $M); a sample navigation got $hinted 103" >&2
    timeout "$RUN_TIMEOUT" h2load -n "$N" -c "$C" -m "$M" "${H[@]}" "https://127.0.0.1:$port/" >"$OUT/$load.h2load.txt" 2>&1 || true
    grep -E '^finished in|^requests:' "$OUT/$load.h2load.txt" >&2 || true
    kill -TERM "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    {
        echo "### $load: CPU"
        go tool pprof -top -nodecount=40 "$OUT/$load.cpu.pprof" 2>/dev/null
        echo "### $load: CPU, cumulative"
        go tool pprof -top -cum -nodecount=60 "$OUT/$load.cpu.pprof" 2>/dev/null
        echo "### $load: allocated bytes"
        go tool pprof -top -sample_index=alloc_space -nodecount=40 "$OUT/$load.allocs.pprof" 2>/dev/null
        echo "### $load: allocated objects"
        go tool pprof -top -sample_index=alloc_objects -nodecount=30 "$OUT/$load.allocs.pprof" 2>/dev/null
    } >"$OUT/$load.top.txt"
done
echo "profiles and summaries in $OUT" >&2
