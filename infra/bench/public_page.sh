#!/usr/bin/env bash
# Benchmark: one tenant's public procedure page served by the release binary,
# against nginx (Debian's default configuration) serving the same bytes as a static
# file, in the same run. Needs: wrk, nginx (apt-get install -y wrk nginx-light).
#
#   infra/bench/public_page.sh [duration_seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-10}
CONNECTIONS=${2:-64}
HOST=valmora.localhost
PAGE=/servizi/cambio-residenza
work=$(mktemp -d /tmp/sportello-bench.XXXXXX)
chmod 755 "$work"
cleanup() {
  [[ -n ${app_pid:-} ]] && kill -INT "$app_pid" 2>/dev/null && wait "$app_pid" 2>/dev/null
  [[ -f $work/nginx.pid ]] && kill -QUIT "$(cat "$work/nginx.pid")" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

command -v wrk >/dev/null && command -v nginx >/dev/null || { echo "install wrk and nginx-light" >&2; exit 1; }
./scripts/setup.sh
cargo build --release --locked -q
bin=${CARGO_TARGET_DIR:-target}/release/sportello

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
APP_PORT=$(free_port)
NGINX_PORT=$(free_port)

SPORTELLO_DATA_DIR=$work/var RUST_LOG=${RUST_LOG:-info} \
  "$bin" serve --listen 127.0.0.1:$APP_PORT 2>"$work/app.log" &
app_pid=$!
for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$APP_PORT/healthz" >/dev/null && break; sleep 0.1; done

mkdir -p "$work/www/servizi" "$work/logs"
curl -sf -H "Host: $HOST" "http://127.0.0.1:$APP_PORT$PAGE" -o "$work/www/servizi/cambio-residenza"
bytes=$(stat -c %s "$work/www/servizi/cambio-residenza")

# Debian's stock nginx.conf, with only the paths and the port changed.
cat > "$work/nginx.conf" <<CONF
worker_processes auto;
pid $work/nginx.pid;
error_log $work/logs/error.log;
events { worker_connections 768; }
http {
    sendfile on;
    tcp_nopush on;
    types_hash_max_size 2048;
    include /etc/nginx/mime.types;
    default_type text/html;
    access_log ${NGINX_ACCESS_LOG:-$work/logs/access.log};
    gzip on;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $work/www;
    }
}
CONF
nginx -c "$work/nginx.conf" -p "$work" -e "$work/logs/error.log"
sleep 0.5

run() { # name url [accept-encoding]
  local encoding=${3:-identity}
  wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -H "Host: $HOST" -H "Accept-Encoding: $encoding" "$2" > "$work/$1.wrk"
  local rps p99
  rps=$(awk '/^Requests\/sec/ {print $2}' "$work/$1.wrk")
  p99=$(awk '$1 == "99%" {print $2}' "$work/$1.wrk")
  printf '| %-9s | %-8s | %10s | %8s |\n' "$1" "$encoding" "$rps" "$p99"
}
# Warm up both, then measure each twice, interleaved.
wrk -t2 -c8 -d2s -H "Host: $HOST" "http://127.0.0.1:$APP_PORT$PAGE" >/dev/null
wrk -t2 -c8 -d2s "http://127.0.0.1:$NGINX_PORT$PAGE" >/dev/null
echo "page: $HOST$PAGE ($bytes bytes), wrk -t2 -c$CONNECTIONS -d${DURATION}s, $(nproc) cores"
for enc in br gzip; do
  size=$(curl -s -H "Host: $HOST" -H "Accept-Encoding: $enc" "http://127.0.0.1:$APP_PORT$PAGE" | wc -c)
  echo "sportello, Accept-Encoding: $enc -> $size bytes"
done
echo "nginx, Accept-Encoding: gzip -> $(curl -s -H "Accept-Encoding: gzip" "http://127.0.0.1:$NGINX_PORT$PAGE" | wc -c) bytes (gzip on, level 1)"
echo "| server    | encoding |  req/s     |  p99     |"
echo "|-----------|----------|------------|----------|"
# Uncompressed (the number earlier runs reported), then as browsers ask.
for round in 1 2; do
  run sportello "http://127.0.0.1:$APP_PORT$PAGE"
  run nginx "http://127.0.0.1:$NGINX_PORT$PAGE"
  run sportello "http://127.0.0.1:$APP_PORT$PAGE" "gzip, deflate, br"
  run sportello "http://127.0.0.1:$APP_PORT$PAGE" gzip
  run nginx "http://127.0.0.1:$NGINX_PORT$PAGE" gzip
done
