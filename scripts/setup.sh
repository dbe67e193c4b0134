#!/usr/bin/env bash
# Installs what Sportello needs on a fresh Debian machine, and nothing twice:
# PostgreSQL server binaries, Node.js + npm, and the Bootstrap Italia design system.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need_apt+=(postgresql)
command -v npm >/dev/null 2>&1 || need_apt+=(nodejs npm)
for extra in "$@"; do
  dpkg -s "$extra" >/dev/null 2>&1 || need_apt+=("$extra")
done

if ((${#need_apt[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "Mancano pacchetti Debian: ${need_apt[*]}" >&2
    echo "Installali con: sudo apt-get install -y ${need_apt[*]}" >&2
    exit 1
  fi
  echo "==> apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${need_apt[@]}" >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q "${need_apt[@]}" >/dev/null; }
  # Debian starts a system cluster with the package; Sportello runs its own.
  if [[ " ${need_apt[*]} " == *" postgresql "* ]]; then
    systemctl stop postgresql >/dev/null 2>&1 || true
  fi
fi

# The design system is installed from npm, served locally, never committed.
stamp=node_modules/.sportello-installed-lock.json
if [[ ! -f node_modules/bootstrap-italia/dist/css/bootstrap-italia.min.css ]] || ! cmp -s package-lock.json "$stamp"; then
  echo "==> npm ci (Bootstrap Italia)"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
