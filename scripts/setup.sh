#!/usr/bin/env bash
# Installs what Sportello needs on a fresh Debian machine, and nothing twice.
#   scripts/setup.sh          to build and run: PostgreSQL server binaries, the C
#                             libraries the SAML code links (xmlsec1, libxml2,
#                             OpenSSL; libclang to generate bindings), Node.js +
#                             npm, and the Bootstrap Italia design system (with the
#                             reduced build the pages load, design-system/build.mjs)
#   scripts/setup.sh --test   also what the tests drive: Chromium, xmlsec1, poppler-utils
#                             (pdftotext/pdfinfo read the PDF receipts back), AgID's
#                             spid-sp-test and the aiosmtpd SMTP sink (in a Python venv, .venv-test),
#                             and the s3s-fs S3 server (cargo install, ~3.5 min the first time)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-run}

packages=(pkg-config mold openssl libssl-dev libxml2-dev libxmlsec1-dev libclang-dev)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || packages+=(postgresql)
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
if [[ $mode == --test ]]; then
  packages+=(chromium xmlsec1 poppler-utils)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "Mancano pacchetti Debian: ${missing[*]}" >&2
    echo "Installali con: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "==> apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; }
  # Debian starts a system cluster with the package; Sportello runs its own.
  systemctl stop postgresql >/dev/null 2>&1 || true
fi

# The design system (and the browser-test tools) from npm, served locally, never committed.
stamp=node_modules/.sportello-installed-lock.json
if [[ ! -f node_modules/bootstrap-italia/dist/css/bootstrap-italia.min.css ]] || ! cmp -s package-lock.json "$stamp"; then
  echo "==> npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
# The reduced design system the pages load (node_modules/.sportello-design-system, the
# setting design_system_dir): only the styles, scripts and icons the themes use. It
# checks its own inputs and rebuilds only when they changed (~1 min when it does).
node design-system/build.mjs

if [[ $mode == --test ]]; then
  venv=.venv-test
  if [[ ! -x $venv/bin/spid_sp_test || ! -x $venv/bin/aiosmtpd ]]; then
    echo "==> spid-sp-test (PyPI) in $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check spid-sp-test==1.2.18 aiosmtpd==1.4.6
  fi
fi

if [[ $mode == --test ]]; then
  # The S3 peer of the storage tests. Pinned: newer releases need a newer rustc.
  s3s_bin=${S3S_FS:-${CARGO_HOME:-$HOME/.cargo}/bin/s3s-fs}
  if [[ ! -x $s3s_bin ]] && ! command -v s3s-fs >/dev/null 2>&1; then
    echo "==> cargo install s3s-fs 0.14.1"
    cargo install s3s-fs --version 0.14.1 --features binary --locked -q
  fi
fi
