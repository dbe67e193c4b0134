#!/usr/bin/env bash
# Benchmark: a 1 GiB upload to S3 (s3s-fs on loopback), streamed through
# `fascicolo::Store::put_stream` and, in the same run, sent as a plain aws-sdk-s3
# multipart PUT; prints throughput and peak RSS growth of each (benches/upload_1gib.rs).
# Needs s3s-fs (scripts/setup.sh --test installs it).
#
#   infra/bench/upload_1gib.sh [size_mib]
# BENCH_PROFILE=dev runs the unoptimised test build instead of the release one (for a
# quick look when no release build is at hand; its numbers are not the product's).
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZE_MIB=${1:-1024}
work=$(mktemp -d /tmp/sportello-bench-upload.XXXXXX)
cleanup() {
  if [[ -n ${s3_pid:-} ]]; then
    kill "$s3_pid" 2>/dev/null || true
    wait "$s3_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

s3s_bin=${S3S_FS:-${CARGO_HOME:-$HOME/.cargo}/bin/s3s-fs}
[[ -x $s3s_bin ]] || s3s_bin=$(command -v s3s-fs) || { echo "run scripts/setup.sh --test (s3s-fs)" >&2; exit 1; }
if [[ ${BENCH_PROFILE:-release} == dev ]]; then run=(cargo test --locked -q --bench upload_1gib --); else run=(cargo bench --locked -q --bench upload_1gib --); fi
"${run[@]:0:6}" --no-run

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
export BENCH_S3_ENDPOINT=http://127.0.0.1:$PORT BENCH_S3_BUCKET=bench \
  BENCH_S3_ACCESS_KEY=bench-access BENCH_S3_SECRET_KEY=bench-secret-key
mkdir -p "$work/s3/bench"   # s3s-fs: a bucket is a folder of its root
"$s3s_bin" --host 127.0.0.1 --port "$PORT" --access-key "$BENCH_S3_ACCESS_KEY" \
  --secret-key "$BENCH_S3_SECRET_KEY" "$work/s3" >"$work/s3s.log" 2>&1 &
s3_pid=$!
for _ in $(seq 1 200); do (echo >/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.05; done

# A "PDF": the header, then incompressible bytes.
{ printf '%%PDF-1.7\n'; head -c $((SIZE_MIB * 1024 * 1024 - 9)) /dev/urandom; } >"$work/file.pdf"
echo "file: $(stat -c %s "$work/file.pdf") bytes; $(nproc) cores; $(uname -r)"
# Twice each, interleaved, so that page cache and disk state favour neither.
for round in 1 2; do
  for mode in store raw; do
    "${run[@]}" "$mode" "$work/file.pdf"
    rm -rf "$work/s3/bench/"*   # keep disk use at a few GiB
  done
done
