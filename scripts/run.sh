#!/usr/bin/env bash
# Runs the platform on its embedded default: a private PostgreSQL in ./var/pg,
# every tenants/*/ applied, http://127.0.0.1:8080 and http://<slug>.localhost:8080.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
# The embedded default shows the SMS and e-mail outboxes (/sviluppo/sms,
# /sviluppo/posta): nothing leaves this machine, so that is where codes are.
export SPORTELLO_DEV_PAGES=${SPORTELLO_DEV_PAGES:-true}
exec cargo run --locked -- serve "$@"
