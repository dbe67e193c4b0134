#!/usr/bin/env bash
# Runs the platform on its embedded default: a private PostgreSQL in ./var/pg,
# every tenants/*/ applied, http://127.0.0.1:8080 and http://<slug>.localhost:8080.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec cargo run --locked -- serve "$@"
