#!/usr/bin/env bash
# table.sh — the side-by-side table of the proxy against its peers in one command: earlyhints,
# the stock Go httputil.ReverseProxy, Caddy, nginx and h2o (those
# installed or installable), TLS 1.3 + HTTP/2, `h2load -c 32 -m 10 -t 1`,
# 3 rounds with the targets taking turns, no think time at the origin, for
#
#   1 KiB page        requests without navigation headers (LOAD=plain)
#   20 KiB page       the same, 20 KiB
#   20 KiB hinted     navigations carrying a Cookie that get a 103 (LOAD=cookie)
#
# and earlyhints over HTTP/3 (bench/h3load, same -n -c -m) beside its HTTP/2.
# Each case is one bench/compare.sh run; every ratio is within one run.
#
#   bench/table.sh                    # about 6 minutes on 2 quiet cores
#   N=10000 bench/table.sh            # fewer requests per round
#   OUT=/tmp/table bench/table.sh     # keep each case's compare.sh output there
#
# Prints, per case: median req/s, CPU per request of the target's own
# processes (ms per 1000 requests, from /proc utime+stime), p50 and p99 of
# the time to the complete response, failures, and each target's ratios
# against earlyhints (req/s and CPU: earlyhints/target).
set -euo pipefail

N=${N:-20000}
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$(mktemp -d /tmp/eh-table.XXXXXX)}
mkdir -p "$OUT"

CASES=("1KiB-page plain 1024" "20KiB-page plain 20480" "20KiB-hinted-cookie cookie 20480")
for c in "${CASES[@]}"; do
    read -r name load bytes <<<"$c"
    echo "== $name: LOAD=$load PAGE_BYTES=$bytes THINK=0ms N=$N C=32 M=10 ROUNDS=3 H3=1" >&2
    THINK=0ms N=$N C=32 M=10 ROUNDS=3 SEQ=5 WITH_OFF=0 H3=1 LOAD=$load PAGE_BYTES=$bytes \
        "$HERE/compare.sh" >"$OUT/$name.txt" 2>"$OUT/$name.log" ||
        { echo "table.sh: compare.sh failed for $name; see $OUT/$name.log" >&2; exit 1; }
done

echo
echo "earlyhints side by side — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, TLS 1.3 + HTTP/2 (eh-h3: HTTP/3),"
echo "h2load -n $N -c 32 -m 10 -t 1, 3 rounds interleaved, origin over HTTP/1.1 keep-alive without think time"
grep -h '^peer:' "$OUT"/*.txt | sort -u
for c in "${CASES[@]}"; do
    read -r name _ _ <<<"$c"
    echo
    echo "### $name"
    # compare.sh's rows: target req/s mean p50 p99 failed <103 column> 200ms cpu
    # and four ratios; the 103 column may hold a space, so cpu is counted
    # from the end.
    awk '
        /^target / {table = 1; next}
        table && NF == 0 {table = 0}
        table && $1 != "origin" {n++; t[n] = $1; rps[n] = $2; p50[n] = $4; p99[n] = $5; failed[n] = $6; cpu[n] = $(NF-4); if ($1 == "earlyhints") e = n}
        END {
            printf "%-11s %8s %9s %7s %7s %6s %14s %14s\n", "target", "req/s", "cpu ms/k", "p50 ms", "p99 ms", "failed", "eh/it req/s", "eh/it cpu/req"
            for (i = 1; i <= n; i++) {
                r = (rps[i] > 0) ? sprintf("%.2f×", rps[e] / rps[i]) : "-"
                u = (cpu[i] > 0) ? sprintf("%.2f×", cpu[e] / cpu[i]) : "-"
                printf "%-11s %8d %9.1f %7s %7s %6s %14s %14s\n", t[i], rps[i], cpu[i], p50[i], p99[i], failed[i], r, u
            }
        }' "$OUT/$name.txt"
done
echo
echo "(eh/it: earlyhints' figure over the row's; req/s above 1 and cpu below 1 favour earlyhints."
echo " eh-h3 is earlyhints itself over HTTP/3. Full compare.sh output per case: $OUT)"
