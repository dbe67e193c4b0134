#!/usr/bin/env bash
# Benchmark: the back-office inbox query (`backoffice::db::inbox`) on 1,000,000 cases
# across 1,000 tenants, one of them holding 100,000 (benches/inbox_1m.rs). Prints the
# seeding time, p50/p95/p99/max per scenario for the big and a typical small tenant,
# and the plan (auto_explain, ANALYZE + BUFFERS) of the slowest scenario.
#
#   infra/bench/inbox_1m.sh [iterations]
# BENCH_BEFORE_AFTER=1 measures first without migration 0008's inbox indexes, then with
# them (BENCH_ITERS_BEFORE rounds for the slow "before", default the same).
# BENCH_PG_DIR=/some/dir keeps the cluster (and its 1M cases) there: a second run
# skips initdb and seeding, applies any new migration and measures again — how a
# fix is compared with the numbers before it on the same data.
#
# The script, not `db::embedded::Cluster`, starts PostgreSQL: the embedded cluster is
# pinned to 128 MB of shared buffers (right for tests and one-command runs), while this
# benchmark is about the server a 24 GiB machine would run in production.
set -euo pipefail
cd "$(dirname "$0")/../.."
ITERS=${1:-300}
bin=/usr/lib/postgresql/15/bin
[[ -x $bin/postgres ]] || { echo "PostgreSQL 15 server binaries not found in $bin" >&2; exit 1; }

cargo bench --locked -q --bench inbox_1m --no-run

keep=${BENCH_PG_DIR:-}
dir=${keep:-$(mktemp -d /tmp/sportello-bench-inbox.XXXXXX)}
mkdir -p "$dir/run"
# PostgreSQL refuses to run as root: the cluster then belongs to `postgres`.
as_pg=()
if [[ $(id -u) == 0 ]]; then
  chown -R postgres: "$dir"
  chmod 755 "$dir"
  as_pg=(runuser -u postgres --)
fi
cleanup() {
  "${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
  [[ -n $keep ]] || rm -rf "$dir"
}
trap cleanup EXIT

if [[ ! -f $dir/data/PG_VERSION ]]; then
  "${as_pg[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
fi
# Production-like memory settings for 24 GiB (a quarter to shared buffers, the rest
# is OS cache) and SSD costs; everything else is PostgreSQL's default (JIT included).
# fsync/synchronous_commit/full_page_writes off and wal_level=minimal only speed up the
# seeding: the measured queries are read-only and do not touch the WAL.
# auto_explain is preloaded (inactive) so the bench can log the plan of the exact
# statement the library sends, as the runtime role, under row-level security.
# (A kept cluster may still be running from an interrupted run: then it is reused.)
"${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1 ||
"${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 120 start -o "\
  -k $dir/run -c listen_addresses= -c max_connections=100 \
  -c shared_buffers=6GB -c effective_cache_size=18GB -c work_mem=32MB -c maintenance_work_mem=1GB \
  -c random_page_cost=1.1 -c effective_io_concurrency=200 \
  -c max_wal_size=16GB -c checkpoint_timeout=30min -c wal_level=minimal -c max_wal_senders=0 \
  -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
  -c shared_preload_libraries=auto_explain -c auto_explain.log_min_duration=-1" >/dev/null

echo "$(nproc) cores; $(free -g | awk '/^Mem:/ {print $2}') GiB; $(uname -r); $("$bin/postgres" --version)"
export BENCH_PG_SOCKET=$dir/run BENCH_PG_LOG=$dir/postgres.log BENCH_ITERS=$ITERS
cargo bench --locked -q --bench inbox_1m
