#!/usr/bin/env bash
# ab.sh — CPU per request of two earlyhints binaries, side by side in one
# run: both proxy the same origin, h2load loads them in turn (ROUNDS
# rounds, A then B), and the CPU time each proxy process used is read from
# /proc around each run. On a shared machine only the ratio B/A means
# anything; req/s is printed but CPU per request is the steadier figure.
#
#   bench/ab.sh OLD_BINARY NEW_BINARY
#   LOAD=cookie PAGE_BYTES=20480 ROUNDS=5 bench/ab.sh /tmp/eh-old bin/earlyhints
#
# Settings: N (10000), C (32), M (10), ROUNDS (5), LOAD (plain, nav,
# cookie), PAGE_BYTES (1024), EH_FLAGS (extra flags for both proxies).
# Every process is started here and stopped by its PID on exit.
set -euo pipefail

[[ $# == 2 ]] || { echo "usage: bench/ab.sh BINARY_A BINARY_B (two builds of cmd/earlyhints)" >&2; exit 2; }
A=$(realpath "$1")
B=$(realpath "$2")
N=${N:-10000}
C=${C:-32}
M=${M:-10}
ROUNDS=${ROUNDS:-5}
LOAD=${LOAD:-plain}
PAGE_BYTES=${PAGE_BYTES:-1024}
EH_FLAGS=${EH_FLAGS:-}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
COOKIE_VALUE='_ga=GA1.2.1234567890.1732900000; _gid=GA1.2.987654321.1733000000; _fbp=fb.1.1732900000000.1234567890; cookieconsent_status=dismiss; OptanonConsent=isGpcEnabled=0&datestamp=Mon+Dec+02+2026&version=202411.1.0&groups=C0001%3A1%2CC0002%3A1; sessionid=9f8e7d6c5b4a39281706f5e4d3c2b1a0; csrftoken=Zx8YwVuTsRqPoNmLkJiHgFeDcBa98765'

for tool in go h2load curl openssl python3 timeout; do
    command -v "$tool" >/dev/null || { echo "ab.sh: $tool is missing (h2load: apt-get install nghttp2-client)" >&2; exit 1; }
done
WORK=$(mktemp -d /tmp/eh-ab.XXXXXX)
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

case $LOAD in
plain) H=(-H 'accept: */*') ;;
nav) H=(-H 'accept: text/html' -H 'sec-fetch-mode: navigate') ;;
cookie) H=(-H 'accept: text/html' -H 'sec-fetch-mode: navigate' -H "cookie: $COOKIE_VALUE") ;;
*) echo "ab.sh: unknown LOAD $LOAD (plain, nav, cookie)" >&2; exit 2 ;;
esac

(cd "$ROOT" && go build -o "$WORK/origin" ./bench/origin)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
ORIGIN_PORT=$(free_port)
"$WORK/origin" -listen "127.0.0.1:$ORIGIN_PORT" -think 0ms -page-bytes "$PAGE_BYTES" >"$WORK/origin.out" 2>&1 &
PIDS+=($!)

declare -A PORT PID
for t in A B; do
    bin=$A
    [[ $t == B ]] && bin=$B
    PORT[$t]=$(free_port)
    # shellcheck disable=SC2086 # EH_FLAGS is a list of flags
    "$bin" proxy --origin "http://127.0.0.1:$ORIGIN_PORT" --listen "127.0.0.1:${PORT[$t]}" --http3=false \
        --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem" --store memory $EH_FLAGS >"$WORK/eh-$t.out" 2>&1 &
    PID[$t]=$!
    PIDS+=("${PID[$t]}")
done
for t in A B; do
    for _ in $(seq 100); do curl -sk --max-time 1 -o /dev/null "https://127.0.0.1:${PORT[$t]}/s.css" && break; sleep 0.1; done
done
# Teach both the page (a cookie navigation needs four networks, a second apart).
for i in 1 2 3 4; do
    for t in A B; do
        W=("${H[@]}")
        if [[ $LOAD == cookie ]]; then
            W=(-H 'accept: text/html' -H 'sec-fetch-mode: navigate' -H "cookie: ${COOKIE_VALUE/sessionid=/sessionid=visitor$i}")
        fi
        curl -sk --http2 --max-time 10 --interface "127.$i.0.1" "${W[@]}" -o /dev/null "https://127.0.0.1:${PORT[$t]}/" || true
    done
    [[ $LOAD == cookie ]] && sleep 1.1
done
for t in A B; do
    timeout 60 h2load -n 500 -c "$C" -m "$M" "${H[@]}" "https://127.0.0.1:${PORT[$t]}/" >/dev/null 2>&1 || true
done

ticks() { local f; f=$(cat "/proc/$1/stat"); f=${f##*) }; awk '{print $12 + $13}' <<<"$f"; }
HZ=$(getconf CLK_TCK)
for r in $(seq "$ROUNDS"); do
    for t in A B; do
        c0=$(ticks "${PID[$t]}")
        timeout 120 h2load -n "$N" -c "$C" -m "$M" -t 1 "${H[@]}" "https://127.0.0.1:${PORT[$t]}/" >"$WORK/h2load-$t-$r.txt" 2>&1 || true
        c1=$(ticks "${PID[$t]}")
        rps=$(awk '/^finished in/ {gsub(",", "", $4); print $4}' "$WORK/h2load-$t-$r.txt")
        ok=$(awk '/^requests:/ {print $8}' "$WORK/h2load-$t-$r.txt")
        echo "$((c1 - c0)) ${rps:-0} ${ok:-0}" >>"$WORK/$t"
    done
done
echo "ab: LOAD=$LOAD PAGE_BYTES=$PAGE_BYTES h2load -n $N -c $C -m $M, $ROUNDS rounds interleaved; A=$A B=$B"
for t in A B; do
    med=$(awk '{print $2}' "$WORK/$t" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')
    awk -v hz="$HZ" -v n="$N" -v t="$t" -v med="$med" '{cpu+=$1; ok+=$3} END {
        printf "%s  cpu ms per 1000 requests %.1f  median req/s %.0f  succeeded %d of %d\n", t, cpu*1000/hz/(n*NR/1000), med, ok, n*NR}' "$WORK/$t"
done | tee "$WORK/summary"
awk 'NR==1 {a=$7; ra=$10} NR==2 {b=$7; rb=$10} END {printf "B/A: cpu per request %.3f, req/s %.3f\n", b/a, rb/ra}' "$WORK/summary"
