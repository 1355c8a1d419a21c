#!/usr/bin/env bash
# idle.sh — resident memory of N idle HTTP/2 connections (each made one
# request, as a browser's does) to earlyhints and to the stock Go proxy,
# nginx and Caddy when installed, in front of the bench origin.
#
#   bench/idle.sh            # N=10000
#   N=2000 PEERS=nginx bench/idle.sh
#
# Run it by hand; it is not part of `make test`. Needs go, openssl,
# python3 and a file descriptor limit above N (ulimit -n).
set -euo pipefail

N=${N:-10000}
PEERS=${PEERS:-nginx caddy}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
WORK=$(mktemp -d /tmp/eh-idle.XXXXXX)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
[ "$(ulimit -n)" -gt "$((N + 100))" ] || { echo "idle.sh: ulimit -n is $(ulimit -n); raise it above N=$N" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
render() { sed -e "s|@DIR@|$WORK|g" -e "s|@PORT@|$3|g" -e "s|@ORIGIN@|$ORIGIN_PORT|g" "$1" >"$2"; }
wait_up() { for _ in $(seq 100); do curl -skf "https://127.0.0.1:$1/" -o /dev/null && return 0; sleep 0.1; done; echo "idle.sh: nothing answers on $1" >&2; exit 1; }

(cd "$ROOT" && go build -o "$WORK/earlyhints" ./cmd/earlyhints && go build -o "$WORK/origin" ./bench/origin &&
    go build -o "$WORK/stockproxy" ./bench/stockproxy && go build -o "$WORK/idleconns" ./bench/idleconns)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
chmod 644 "$WORK/key.pem"
mkdir -p "$WORK/nginx-tmp"
ORIGIN_PORT=$(free_port)
"$WORK/origin" -listen "127.0.0.1:$ORIGIN_PORT" -think 0ms >"$WORK/origin.out" 2>&1 &
PIDS+=($!)

measure() { # measure NAME PORT PIDS
    wait_up "$2"
    printf '%-11s ' "$1"
    "$WORK/idleconns" -addr "127.0.0.1:$2" -pid "$3" -n "$N" | awk '/^per connection/ {print $3, "KiB per connection"} /^rss after/ {a=$3} END {}'
}

port=$(free_port)
"$WORK/earlyhints" proxy --origin "http://127.0.0.1:$ORIGIN_PORT" --listen "127.0.0.1:$port" --http3=false \
    --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem" >"$WORK/eh.out" 2>&1 &
PIDS+=($!)
measure earlyhints "$port" $!
port=$(free_port)
"$WORK/stockproxy" -listen "127.0.0.1:$port" -origin "http://127.0.0.1:$ORIGIN_PORT" -cert "$WORK/cert.pem" -key "$WORK/key.pem" 2>"$WORK/stock.out" &
PIDS+=($!)
measure stock "$port" $!
for p in $PEERS; do
    command -v "$p" >/dev/null || { echo "skipping $p: not installed (apt-get install $p)"; continue; }
    port=$(free_port)
    case $p in
    nginx)
        render "$HERE/conf/nginx.conf.tmpl" "$WORK/nginx.conf" "$port"
        nginx -p "$WORK" -c "$WORK/nginx.conf" -g 'daemon off;' >"$WORK/nginx.out" 2>&1 &
        pid=$!
        PIDS+=("$pid")
        wait_up "$port"
        measure nginx "$port" "$(pgrep -d, -P "$pid"),$pid"
        ;;
    caddy)
        render "$HERE/conf/Caddyfile.tmpl" "$WORK/Caddyfile" "$port"
        mkdir -p "$WORK/caddy-home"
        HOME="$WORK/caddy-home" XDG_DATA_HOME="$WORK/caddy-home" XDG_CONFIG_HOME="$WORK/caddy-home" \
            caddy run --config "$WORK/Caddyfile" --adapter caddyfile >"$WORK/caddy.out" 2>&1 &
        PIDS+=($!)
        measure caddy "$port" $!
        ;;
    esac
done
