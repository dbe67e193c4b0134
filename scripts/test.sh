#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what the tests
# need, then runs the one integration-test binary (which starts its own
# PostgreSQL cluster) and the unit tests.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --test
cargo test --locked "$@"
