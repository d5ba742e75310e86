#!/usr/bin/env bash
# System calls per probe of lvskeeper's check engine on this host (no IPVS needed: `run --dry-run`).
# N loopback real servers (127.1.0.x) per kind at delay_loop 1: TCP_CHECK against nginx, TCP_CHECK
# on a refused port, HTTP_GET and SSL_GET against one nginx (`return 200 "ok\n"`, keepalive_timeout
# 0, ECDSA P-256 certificate). After WARM s, `strace -c -f -p` for SECS s; each call count is divided
# by the connect(2) count (one per probe). keepalived's side needs IPVS: HB_STRACE=SECS with
# bench/health-checkers.sh counts both in the VM.
# usage: bench/checker-syscalls-host.sh [N] [SECS]   (needs nginx, strace, openssl; release build)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
n="${1:-200}" secs="${2:-10}" warm="${WARM:-8}"
cd "$root"
swift build -c release --product lvskeeper >/dev/null
bin="${LVSK_BIN:-$(swift build -c release --show-bin-path)/lvskeeper}"
dir="$(mktemp -d)"
trap '[[ -s $dir/nginx.pid ]] && kill "$(cat "$dir/nginx.pid")"; rm -rf "$dir"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=hb \
  -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
addr() { echo "127.1.$(($1 / 250)).$(($1 % 250 + 1))"; }
{
  echo "worker_processes 1; pid $dir/nginx.pid; error_log $dir/error.log; events { worker_connections 8192; }"
  echo "http { access_log off; keepalive_timeout 0; server {"
  for ((i = 0; i < n; i++)); do echo "listen $(addr $i):28081 backlog=4096; listen $(addr $i):28443 ssl backlog=4096;"; done
  echo "ssl_certificate $dir/cert.pem; ssl_certificate_key $dir/key.pem; location / { return 200 \"ok\\n\"; } } }"
} > "$dir/nginx.conf"
nginx -c "$dir/nginx.conf" -p "$dir"
url=$'{\n      url {\n        path /\n        status_code 200\n      }\n      connect_timeout 3\n    }'
echo "# bench/checker-syscalls-host.sh $n $secs   $(date -u +%Y-%m-%dT%H:%MZ) $(git rev-parse --short HEAD), load $(cut -d' ' -f1-3 /proc/loadavg)"
for kind in ${KINDS:-tcp refused http ssl}; do
  case $kind in
    tcp) port=28081 check='TCP_CHECK { connect_timeout 3 }' ;;
    refused) port=28099 check='TCP_CHECK { connect_timeout 3 }' ;;
    http) port=28081 check="HTTP_GET $url" ;;
    ssl) port=28443 check="SSL_GET $url" ;;
  esac
  {
    echo 'global_defs { router_id hb }'
    printf 'virtual_server 10.99.0.1 80 {\n  delay_loop 1\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n'
    for ((i = 0; i < n; i++)); do printf '  real_server %s %d {\n    %s\n  }\n' "$(addr $i)" $port "$check"; done
    echo '}'
  } > "$dir/$kind.conf"
  "$bin" run --dry-run -f "$dir/$kind.conf" --control-socket "$dir/$kind.sock" --log-level warning > "$dir/$kind.log" 2>&1 &
  pid=$!
  sleep "$warm"
  timeout -s INT "$secs" strace -c -f -p "$pid" -o "$dir/strace.txt" > /dev/null 2>&1 || true
  kill "$pid"; wait "$pid" 2>/dev/null || true
  awk -v kind="$kind" '$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && $NF != "total" { calls[$NF] = $4; order[k++] = $NF }
    END { c = calls["connect"]; line = sprintf("%-8s per probe (%d connects):", kind, c)
      for (i = 0; i < k; i++) if (calls[order[i]] / c >= 0.005) { total += calls[order[i]]; line = line sprintf(" %s %.2f", order[i], calls[order[i]] / c) }
      print line sprintf("; total %.2f", total / c) }' "$dir/strace.txt"
done
