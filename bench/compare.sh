#!/usr/bin/env bash
# compare.sh — earlyhints side by side with nginx, h2o and Caddy, all on loopback.
#
# One origin (bench/origin) thinks THINK before each page; earlyhints, and
# each peer Debian provides, proxy it over TLS + HTTP/2. h2load loads every
# target with the same navigations; curl then times, request by request,
# when the 103 and the 200 arrive. Ratios are taken within this one run: only
# they mean anything, absolute numbers depend on the machine.
#
#   bench/compare.sh                  # defaults below
#   N=4000 C=40 THINK=100ms bench/compare.sh
#   PEERS="nginx" bench/compare.sh    # only some peers
#   KEEP=1 bench/compare.sh           # keep the work directory (configs, logs)
#   WITH_OFF=0 bench/compare.sh       # leave out "eh-off" (earlyhints --mode off)
#   LOAD=cookie bench/compare.sh      # navigations carrying a realistic Cookie
#   LOAD=plain PAGE_BYTES=20480 bench/compare.sh   # no navigation headers, 20 KiB page
#   H3=1 bench/compare.sh             # also load earlyhints over HTTP/3 (bench/h3load)
#
# Run it by hand; it is not part of `make test`. It installs missing peers
# with apt-get when run as root (INSTALL=0 to never install).
set -euo pipefail

N=${N:-2000}                 # requests per h2load run
C=${C:-20}                   # h2load clients (connections)
M=${M:-10}                   # streams per connection
THINK=${THINK:-50ms}         # origin think time before each page
ROUNDS=${ROUNDS:-3}          # h2load runs per target (median req/s; latencies pooled)
SEQ=${SEQ:-50}               # sequential curl requests per target for 103/200 timing
RUN_TIMEOUT=${RUN_TIMEOUT:-120}   # seconds one h2load run may take at most
PEERS=${PEERS-"nginx h2o caddy"}   # empty: earlyhints and the origin only
INSTALL=${INSTALL:-1}
WITH_OFF=${WITH_OFF:-1}      # also measure earlyhints with --mode off (plain proxying)
STOCK=${STOCK:-1}            # also measure a stock httputil.ReverseProxy (bench/stockproxy)
LOAD=${LOAD:-nav}            # nav: navigations; plain: no navigation headers; cookie: navigations with a Cookie
PAGE_BYTES=${PAGE_BYTES:-0}  # page size (0: the bare ~300-byte page)
H3=${H3:-0}                  # also load earlyhints over HTTP/3 with bench/h3load
GOGC_EH=${GOGC_EH:-}         # GOGC for the earlyhints processes (empty: its default)
EH_FLAGS=${EH_FLAGS:-}       # extra flags for earlyhints proxy (both earlyhints and eh-off)

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# A realistic Cookie: analytics, consent and a session, about 350 bytes,
# as most navigations on a real site carry.
COOKIE_VALUE='_ga=GA1.2.1234567890.1732900000; _gid=GA1.2.987654321.1733000000; _fbp=fb.1.1732900000000.1234567890; cookieconsent_status=dismiss; OptanonConsent=isGpcEnabled=0&datestamp=Mon+Dec+02+2026&version=202411.1.0&groups=C0001%3A1%2CC0002%3A1; sessionid=9f8e7d6c5b4a39281706f5e4d3c2b1a0; csrftoken=Zx8YwVuTsRqPoNmLkJiHgFeDcBa98765'
case $LOAD in
nav) NAV=(-H 'accept: text/html' -H 'sec-fetch-mode: navigate') ;;
cookie) NAV=(-H 'accept: text/html' -H 'sec-fetch-mode: navigate' -H "cookie: $COOKIE_VALUE") ;;
plain) NAV=(-H 'accept: */*') ;;
*) echo "compare.sh: LOAD is nav, plain or cookie, not $LOAD" >&2; exit 2 ;;
esac

for tool in go h2load curl openssl python3 awk sort timeout; do
    command -v "$tool" >/dev/null || { echo "compare.sh: $tool is missing; install it (h2load: apt-get install nghttp2-client)" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/eh-bench.XXXXXX)
chmod 755 "$WORK"   # nginx workers run as nobody
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        # Bounded wait: 50 × 0.1 s, then SIGKILL.
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    if [[ ${KEEP:-0} == 1 ]]; then echo "work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '%s\n' "$*" >&2; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_https PORT NAME: until the port answers a TLS request (at most 10 s).
wait_https() {
    local i
    for i in $(seq 100); do
        if ! kill -0 "${PID[$2]}" 2>/dev/null; then
            log "compare.sh: $2 exited at start:"; tail -5 "$WORK/$2.out" >&2; return 1
        fi
        if curl -sk --max-time 1 -o /dev/null "https://127.0.0.1:$1/s.css"; then return 0; fi
        sleep 0.1
    done
    log "compare.sh: $2 did not answer on 127.0.0.1:$1 within 10 s; see $WORK/$2.out (KEEP=1 keeps it)"
    return 1
}

render() { # render TEMPLATE OUT PORT
    sed -e "s|@DIR@|$WORK|g" -e "s|@PORT@|$3|g" -e "s|@ORIGIN@|$ORIGIN_PORT|g" "$1" >"$2"
}

# ---- peers: install what Debian provides ----------------------------------
declare -A PEER_BIN=([nginx]=nginx [h2o]=h2o [caddy]=caddy)
AVAILABLE=()
for p in $PEERS; do
    bin=${PEER_BIN[$p]:-}
    [[ -n $bin ]] || { log "compare.sh: unknown peer $p (known: nginx h2o caddy)"; continue; }
    if ! command -v "$bin" >/dev/null && [[ $INSTALL == 1 && $(id -u) == 0 ]]; then
        log "installing $p with apt-get…"
        DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y --no-install-recommends "$p" >"$WORK/apt-$p.log" 2>&1 || true
    fi
    if command -v "$bin" >/dev/null; then AVAILABLE+=("$p"); else log "skipping $p: not installed and not installable here (apt-get install $p)"; fi
done

# ---- build and start ------------------------------------------------------
log "building earlyhints and the origin…"
(cd "$ROOT" && go build -o "$WORK/earlyhints" ./cmd/earlyhints && go build -o "$WORK/origin" ./bench/origin &&
    go build -o "$WORK/stockproxy" ./bench/stockproxy && go build -o "$WORK/h3load" ./bench/h3load)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
chmod 644 "$WORK/key.pem"
mkdir -p "$WORK/nginx-tmp"

declare -A PORT PID
ORIGIN_PORT=$(free_port)
ORIGIN_TLS_PORT=$(free_port)
"$WORK/origin" -listen "127.0.0.1:$ORIGIN_PORT" -tls-listen "127.0.0.1:$ORIGIN_TLS_PORT" \
    -cert "$WORK/cert.pem" -key "$WORK/key.pem" -think "$THINK" -page-bytes "$PAGE_BYTES" >"$WORK/origin.out" 2>&1 &
PIDS+=($!)
PID[origin]=$!

TARGETS=(origin earlyhints)
PORT[origin]=$ORIGIN_TLS_PORT
PORT[earlyhints]=$(free_port)
H3FLAG=--http3=false
[[ $H3 == 1 ]] && H3FLAG=--http3=true
ehenv=()
[[ -n $GOGC_EH ]] && ehenv=(env "GOGC=$GOGC_EH")
# Every request is logged by every proxy, to a file: earlyhints to its stderr.
# shellcheck disable=SC2086 # EH_FLAGS is a list of flags
"${ehenv[@]}" "$WORK/earlyhints" proxy --origin "http://127.0.0.1:$ORIGIN_PORT" --listen "127.0.0.1:${PORT[earlyhints]}" \
    --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem" --store memory $H3FLAG $EH_FLAGS >"$WORK/earlyhints.out" 2>&1 &
PIDS+=($!)
PID[earlyhints]=$!
if [[ $WITH_OFF == 1 ]]; then
    # The same proxy with hints off: the difference to "earlyhints" is what
    # learning and sending 103s cost.
    PORT[eh-off]=$(free_port)
    # shellcheck disable=SC2086
    "${ehenv[@]}" "$WORK/earlyhints" proxy --origin "http://127.0.0.1:$ORIGIN_PORT" --listen "127.0.0.1:${PORT[eh-off]}" --mode off \
        --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem" --store memory $H3FLAG $EH_FLAGS >"$WORK/eh-off.out" 2>&1 &
    PIDS+=($!)
    PID[eh-off]=$!
    TARGETS+=(eh-off)
fi
if [[ $STOCK == 1 ]]; then
    # net/http's ReverseProxy as it comes: the Go baseline, hinting nothing.
    PORT[stock]=$(free_port)
    "$WORK/stockproxy" -listen "127.0.0.1:${PORT[stock]}" -origin "http://127.0.0.1:$ORIGIN_PORT" \
        -cert "$WORK/cert.pem" -key "$WORK/key.pem" 2>"$WORK/stock.out" &
    PIDS+=($!)
    PID[stock]=$!
    TARGETS+=(stock)
fi

for p in "${AVAILABLE[@]}"; do
    PORT[$p]=$(free_port)
    case $p in
    nginx)
        render "$HERE/conf/nginx.conf.tmpl" "$WORK/nginx.conf" "${PORT[$p]}"
        nginx -p "$WORK" -c "$WORK/nginx.conf" -g 'daemon off;' >"$WORK/nginx.out" 2>&1 &
        ;;
    h2o)
        render "$HERE/conf/h2o.conf.tmpl" "$WORK/h2o.conf" "${PORT[$p]}"
        h2o -c "$WORK/h2o.conf" >"$WORK/h2o.out" 2>&1 &
        ;;
    caddy)
        render "$HERE/conf/Caddyfile.tmpl" "$WORK/Caddyfile" "${PORT[$p]}"
        mkdir -p "$WORK/caddy-home"
        HOME="$WORK/caddy-home" XDG_DATA_HOME="$WORK/caddy-home" XDG_CONFIG_HOME="$WORK/caddy-home" \
            caddy run --config "$WORK/Caddyfile" --adapter caddyfile >"$WORK/caddy.out" 2>&1 &
        ;;
    esac
    PIDS+=($!)
    PID[$p]=$!
    TARGETS+=("$p")
done

for t in "${TARGETS[@]}"; do wait_https "${PORT[$t]}" "$t"; done

# ---- measure --------------------------------------------------------------
# Warm every target (connections to the origin, and earlyhints learns the page).
if [[ $LOAD == cookie ]]; then
    # A navigation with a Cookie is private: earlyhints hints only what
    # distinct requesters (networks) saw, and analyses a page at most once a
    # second. Four visitors from four /24s, a second apart, teach it.
    # Each visitor has a session of its own: one cookie from four networks
    # counts as one person.
    for i in 1 2 3 4; do
        curl -sk --http2 --max-time 10 --interface "127.$i.0.1" -H 'accept: text/html' -H 'sec-fetch-mode: navigate' \
            -H "cookie: ${COOKIE_VALUE/sessionid=/sessionid=visitor$i}" -o /dev/null "https://127.0.0.1:${PORT[earlyhints]}/" || true
        sleep 1.1
    done
fi
for t in "${TARGETS[@]}"; do
    for _ in 1 2 3; do curl -sk --http2 --max-time 10 "${NAV[@]}" -o /dev/null "https://127.0.0.1:${PORT[$t]}/"; done
    timeout "$RUN_TIMEOUT" h2load -n 200 -c "$C" -m "$M" "${NAV[@]}" "https://127.0.0.1:${PORT[$t]}/" >/dev/null 2>&1 || true
done

# cpu_ticks PID: user+system clock ticks of PID and its children (nginx
# workers, h2o helpers), threads included.
cpu_ticks() {
    local total=0 p f
    for p in "$1" $(ps -o pid= --ppid "$1" 2>/dev/null); do
        f=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        f=${f##*) }   # fields after the command name, which may hold spaces
        total=$((total + $(awk '{print $12 + $13}' <<<"$f")))
    done
    echo "$total"
}
HZ=$(getconf CLK_TCK)

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) {print "nan"; exit} print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

declare -A RPS MEAN P50 P99 FAILED T103 N103 T200 CPU
log "load: h2load -n $N -c $C -m $M over HTTP/2, $ROUNDS rounds per target, targets in turn; origin think $THINK"
for r in $(seq "$ROUNDS"); do
    for t in "${TARGETS[@]}"; do
        out="$WORK/h2load-$t-$r.txt"
        c0=$(cpu_ticks "${PID[$t]}")
        timeout "$RUN_TIMEOUT" h2load -n "$N" -c "$C" -m "$M" -t 1 "${NAV[@]}" --log-file="$WORK/h2load-$t-$r.log" \
            "https://127.0.0.1:${PORT[$t]}/" >"$out" 2>&1 || log "h2load against $t ended with an error (round $r); see $out"
        c1=$(cpu_ticks "${PID[$t]}")
        echo $((c1 - c0)) >>"$WORK/cpu-$t"
        rps=$(awk '/^finished in/ {gsub(",", "", $4); print $4}' "$out")
        log "  round $r $t: ${rps:-?} req/s"
        echo "${rps:-0}" >>"$WORK/rps-$t"
        awk '/^requests:/ {print $10}' "$out" >>"$WORK/failed-$t"
    done
done
if [[ $H3 == 1 ]]; then
    # The same load over HTTP/3 on earlyhints' UDP port (same number).
    timeout "$RUN_TIMEOUT" "$WORK/h3load" -n 200 -c "$C" -m "$M" -insecure "${NAV[@]}" "https://127.0.0.1:${PORT[earlyhints]}/" >/dev/null 2>&1 || true
    PID[eh-h3]=${PID[earlyhints]}
    for r in $(seq "$ROUNDS"); do
        out="$WORK/h2load-eh-h3-$r.txt"
        c0=$(cpu_ticks "${PID[earlyhints]}")
        timeout "$RUN_TIMEOUT" "$WORK/h3load" -n "$N" -c "$C" -m "$M" -insecure "${NAV[@]}" -log-file "$WORK/h2load-eh-h3-$r.log" \
            "https://127.0.0.1:${PORT[earlyhints]}/" >"$out" 2>&1 || log "h3load ended with an error (round $r); see $out"
        c1=$(cpu_ticks "${PID[earlyhints]}")
        echo $((c1 - c0)) >>"$WORK/cpu-eh-h3"
        rps=$(awk '/^finished in/ {gsub(",", "", $4); print $4}' "$out")
        log "  round $r earlyhints over h3: ${rps:-?} req/s"
        echo "${rps:-0}" >>"$WORK/rps-eh-h3"
        awk '/^requests:/ {print $10}' "$out" >>"$WORK/failed-eh-h3"
    done
    TARGETS+=(eh-h3)
fi
for t in "${TARGETS[@]}"; do
    RPS[$t]=$(median <"$WORK/rps-$t")
    # CPU the target's own processes spent, in ms per 1000 requests (the
    # origin's work behind a proxy is the same for every proxy and not counted).
    CPU[$t]=$(awk -v hz="$HZ" -v n="$N" '{s+=$1} END {printf "%.0f", s*1000/hz/(n*NR/1000)}' "$WORK/cpu-$t")
    FAILED[$t]=$(awk '{s+=$1} END {print s+0}' "$WORK/failed-$t")
    # h2load --log-file: start µs, status, duration µs (to the end of the
    # stream). h2load 1.52 logs the first status it sees, so a hinted
    # response shows as 103 (and in its summary as 3xx); 1xx is a success
    # here, the sequential curl run checks the final status.
    cat "$WORK"/h2load-"$t"-*.log >"$WORK/lat-$t"
    FAILED[$t]=$((FAILED[$t] + $(awk '$2 >= 300' "$WORK/lat-$t" | wc -l)))
    awk '{print $3/1000}' "$WORK/lat-$t" | sort -g >"$WORK/lat-$t.sorted"
    MEAN[$t]=$(awk '{s+=$1} END {printf "%.1f", NR ? s/NR : 0}' "$WORK/lat-$t.sorted")
    P50[$t]=$(awk '{a[NR]=$1} END {i=int(NR*0.50); if (i<1) i=1; printf "%.1f", a[i]}' "$WORK/lat-$t.sorted")
    P99[$t]=$(awk '{a[NR]=$1} END {i=int(NR*0.99); if (i<1) i=1; printf "%.1f", a[i]}' "$WORK/lat-$t.sorted")
done

log "sequential: $SEQ navigations per target with curl, one connection each, times from request sent"
for t in "${TARGETS[@]}"; do
    : >"$WORK/seq103-$t"; : >"$WORK/seq200-$t"
    if [[ $t == eh-h3 ]]; then N103[$t]=0; T103[$t]=nan; T200[$t]=nan; continue; fi
    bad=0
    for i in $(seq "$SEQ"); do
        # time_starttransfer marks the first response byte, the 103 when there is one;
        # time_total is the end of the (small) 200. Both less time_pretransfer
        # (connect + TLS), so they count from the request.
        w=$(curl -sk --http2 --max-time 10 "${NAV[@]}" -D "$WORK/hdr" -o /dev/null \
            -w '%{time_pretransfer} %{time_starttransfer} %{time_total} %{http_code}' "https://127.0.0.1:${PORT[$t]}/") || { bad=$((bad + 1)); continue; }
        read -r pre first total code <<<"$w"
        if [[ $code != 200 ]]; then bad=$((bad + 1)); continue; fi
        if grep -q '^HTTP/2 103' "$WORK/hdr"; then
            awk -v a="$pre" -v b="$first" 'BEGIN {printf "%.3f\n", (b-a)*1000}' >>"$WORK/seq103-$t"
        fi
        awk -v a="$pre" -v b="$total" 'BEGIN {printf "%.3f\n", (b-a)*1000}' >>"$WORK/seq200-$t"
    done
    FAILED[$t]=$((FAILED[$t] + bad))
    N103[$t]=$(wc -l <"$WORK/seq103-$t")
    T103[$t]=$(median <"$WORK/seq103-$t")
    T200[$t]=$(median <"$WORK/seq200-$t")
done

# ---- report ---------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b+0 == 0 || a == "nan" || b == "nan") print "-"; else printf "%.2f×", a/b}'; }
cores=$(nproc 2>/dev/null || echo "?")
echo
echo "earlyhints bench — $(date -u +%Y-%m-%dT%H:%MZ), $cores cores, origin think $THINK, page $PAGE_BYTES bytes (0: bare), load $LOAD"
echo "load: h2load -n $N -c $C -m $M (HTTP/2, TLS; $LOAD requests), $ROUNDS rounds: median req/s, latencies over all rounds"
[[ $H3 == 1 ]] && echo "eh-h3: earlyhints over HTTP/3, bench/h3load with the same -n -c -m (no sequential run: curl has no HTTP/3 here)"
echo "sequential: $SEQ curl navigations each, median ms from request sent to first 103 / to the 200"
for p in "${AVAILABLE[@]}"; do
    case $p in
    nginx) echo "peer: $(nginx -v 2>&1 | sed 's/^nginx version: //')" ;;
    h2o) echo "peer: $(h2o --version | head -1 | sed 's/ version /\//')" ;;
    caddy) echo "peer: caddy/$(caddy version | awk '{print $1}')" ;;
    esac
done
echo
printf '%-11s %8s %8s %7s %7s %6s %13s %7s %8s %9s %9s %9s %10s\n' target "req/s" "mean ms" "p50 ms" "p99 ms" failed "103 ms" "200 ms" "cpu ms/k" "rps/nginx" "p99/nginx" "cpu/nginx" "rps/origin"
for t in "${TARGETS[@]}"; do
    h="-"
    if [[ ${N103[$t]} -gt 0 ]]; then h="$(printf '%.3f' "${T103[$t]}") ($((N103[$t]))/$SEQ)"; fi
    rn="-"; pn="-"; cn="-"
    if [[ -n ${RPS[nginx]:-} ]]; then
        rn=$(ratio "${RPS[$t]}" "${RPS[nginx]}"); pn=$(ratio "${P99[$t]}" "${P99[nginx]}"); cn=$(ratio "${CPU[$t]}" "${CPU[nginx]}")
    fi
    printf '%-11s %8.0f %8s %7s %7s %6s %13s %7.1f %8s %9s %9s %9s %10s\n' "$t" "${RPS[$t]}" "${MEAN[$t]}" "${P50[$t]}" "${P99[$t]}" \
        "${FAILED[$t]}" "$h" "${T200[$t]}" "${CPU[$t]}" "$rn" "$pn" "$cn" "$(ratio "${RPS[$t]}" "${RPS[origin]}")"
done
echo
echo "ratios, earlyhints against each target of this run (req/s, p99, CPU per request):"
for t in "${TARGETS[@]}"; do
    [[ $t == earlyhints ]] && continue
    printf '  earlyhints/%-8s rps %6s  p99 %6s  cpu %6s\n' "$t" "$(ratio "${RPS[earlyhints]}" "${RPS[$t]}")" "$(ratio "${P99[earlyhints]}" "${P99[$t]}")" "$(ratio "${CPU[earlyhints]}" "${CPU[$t]}")"
done
echo
echo "earlyhints/origin throughput $(ratio "${RPS[earlyhints]}" "${RPS[origin]}"), p99 $(ratio "${P99[earlyhints]}" "${P99[origin]}")"
if [[ -n ${CPU[eh-off]:-} ]]; then
    echo "earlyhints/eh-off (cost of hints) throughput $(ratio "${RPS[earlyhints]}" "${RPS[eh-off]}"), p99 $(ratio "${P99[earlyhints]}" "${P99[eh-off]}"), CPU per request $(ratio "${CPU[earlyhints]}" "${CPU[eh-off]}")"
fi
for p in "${AVAILABLE[@]}"; do
    echo "earlyhints/$p throughput $(ratio "${RPS[earlyhints]}" "${RPS[$p]}"), p99 $(ratio "${P99[earlyhints]}" "${P99[$p]}"), CPU per request $(ratio "${CPU[earlyhints]}" "${CPU[$p]}"), sequential 200 $(ratio "${T200[earlyhints]}" "${T200[$p]}")"
done
if [[ ${N103[earlyhints]} -gt 0 ]]; then
    printf 'earlyhints first byte of 103 after request: %.3f ms median vs %s think (200 after %.1f ms)\n' "${T103[earlyhints]}" "$THINK" "${T200[earlyhints]}"
else
    echo "earlyhints sent no 103 in the sequential run: check $WORK/earlyhints.out (KEEP=1)"
fi
for p in "${AVAILABLE[@]}"; do
    if [[ ${N103[$p]} -gt 0 ]]; then printf '%s first byte of 103 after request: %.3f ms median\n' "$p" "${T103[$p]}"; fi
done
echo "(absolute numbers depend on the machine and its load; compare ratios within one run)"
