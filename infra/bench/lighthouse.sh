#!/usr/bin/env bash
# Benchmark: the citizen pages on a phone, as Lighthouse 12.2.3 measures them (its default
# mobile profile: a mid-range phone, simulated slow 4G and 4x CPU slowdown) in Debian's
# Chromium, against the release binary on its embedded default, for valmora and roccamare:
# home, catalogue, a procedure page, the sign-in page, and (signed in through the
# development IdP, the session cookie handed to Lighthouse) a form step and the personal area.
# Lighthouse is installed from npm into a throwaway folder, never into the project.
#
#   infra/bench/lighthouse.sh                 the reduced design system (the default)
#   DESIGN_SYSTEM=full infra/bench/lighthouse.sh   Bootstrap Italia's full distribution
# SPORTELLO_BIN=path skips the release build and runs that binary instead.
set -euo pipefail
cd "$(dirname "$0")/../.."
LIGHTHOUSE_VERSION=12.2.3
work=$(mktemp -d "${TMPDIR:-/tmp}/sportello-lighthouse.XXXXXX")
chmod 755 "$work"
cleanup() {
  [[ -n ${app_pid:-} ]] && kill -INT "$app_pid" 2>/dev/null && wait "$app_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

command -v /usr/bin/chromium >/dev/null || { echo "install chromium (scripts/setup.sh --test)" >&2; exit 1; }
./scripts/setup.sh
lh_dir=${TMPDIR:-/tmp}/lighthouse-$LIGHTHOUSE_VERSION
if [[ ! -x $lh_dir/node_modules/.bin/lighthouse ]]; then
  npm install --prefix "$lh_dir" --no-audit --no-fund --loglevel=error "lighthouse@$LIGHTHOUSE_VERSION" >/dev/null
fi
if [[ -z ${SPORTELLO_BIN:-} ]]; then
  cargo build --release --locked -q
  SPORTELLO_BIN=${CARGO_TARGET_DIR:-target}/release/sportello
fi
case ${DESIGN_SYSTEM:-reduced} in
  reduced) ds=node_modules/.sportello-design-system ;;
  full) ds=node_modules/bootstrap-italia/dist ;;
  *) echo "DESIGN_SYSTEM is reduced or full" >&2; exit 1 ;;
esac

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SPORTELLO_DATA_DIR=$work/var SPORTELLO_DEV_PAGES=true SPORTELLO_DESIGN_SYSTEM_DIR=$ds RUST_LOG=${RUST_LOG:-warn} \
  "$SPORTELLO_BIN" serve --listen 127.0.0.1:$PORT >"$work/app.out" 2>"$work/app.log" &
app_pid=$!
for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null || { cat "$work/app.log" >&2; exit 1; }

# Signs Mario Rossi in through the development IdP, starts a case: prints the session
# cookie and the path of the case's first form step.
sign_in() { # host
  node --input-type=module - "http://$1:$PORT" <<'JS'
import { chromium } from 'playwright-core';
const base = process.argv[2];
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--host-resolver-rules=MAP *.localhost 127.0.0.1'] });
const page = await (await browser.newContext()).newPage();
await page.goto(`${base}/accesso/spid?next=%2Farea-personale`);
await Promise.all([page.waitForNavigation(), page.click('[data-element="dev-idp"]')]);
await Promise.all([page.waitForURL('**/area-personale', { timeout: 20000 }), page.click('button[value="RSSMRA80A01H501U"]')]);
await page.goto(`${base}/servizi/cambio-residenza`);
await Promise.all([page.waitForNavigation(), page.click('[data-element="service-online-access"]')]);
await Promise.all([page.waitForNavigation(), page.click('main form button[type=submit]')]);
const cookies = await page.context().cookies(base);
console.log(cookies.map((c) => `${c.name}=${c.value}`).join('; '));
console.log(new URL(page.url()).pathname);
await browser.close();
JS
}

runs=0
lighthouse() { # label url [cookie]
  local headers=() f
  runs=$((runs + 1))
  f=$work/run-$runs
  [[ -n ${3:-} ]] && headers=(--extra-headers "$(node -e 'console.log(JSON.stringify({Cookie: process.argv[1]}))' "$3")")
  local try
  for try in 1 2; do # a trace is now and then lost (NO_NAVSTART): once more
    CHROME_PATH=/usr/bin/chromium "$lh_dir/node_modules/.bin/lighthouse" "$2" --quiet --output=json \
      --output-path="$f.json" --only-categories=performance,accessibility,best-practices,seo \
      --chrome-flags="--headless=new --no-sandbox --host-resolver-rules=MAP *.localhost 127.0.0.1" "${headers[@]}" \
      >/dev/null 2>"$f.err" && break
    [[ $try == 2 ]] && { echo "| $1 | lighthouse failed: $(tail -1 "$f.err") |"; return; }
  done
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const s = (k) => Math.round(r.categories[k].score * 100);
    const a = (k) => r.audits[k];
    const ms = (k) => (a(k).numericValue / 1000).toFixed(1) + " s";
    console.log(`| ${process.argv[2]} | ${s("performance")} | ${s("accessibility")} | ${s("best-practices")} | ${s("seo")} | ${ms("first-contentful-paint")} | ${ms("largest-contentful-paint")} | ${Math.round(a("total-blocking-time").numericValue)} ms | ${a("cumulative-layout-shift").numericValue.toFixed(3)} | ${Math.round(a("total-byte-weight").numericValue / 1024)} KiB |`);
  ' "$f.json" "$1"
}

echo "Lighthouse $LIGHTHOUSE_VERSION, default mobile profile, design system: ${DESIGN_SYSTEM:-reduced} ($ds), $(nproc) cores"
echo "| page | perf | a11y | best pr. | SEO | FCP | LCP | TBT | CLS | bytes |"
echo "|------|-----:|-----:|---------:|----:|----:|----:|----:|----:|------:|"
for host in valmora.localhost roccamare.localhost; do
  base=http://$host:$PORT
  t=${host%%.*}
  lighthouse "$t /" "$base/"
  lighthouse "$t /servizi" "$base/servizi"
  lighthouse "$t /servizi/cambio-residenza" "$base/servizi/cambio-residenza"
  lighthouse "$t /accesso" "$base/accesso"
  if signed=$(sign_in "$host" 2>"$work/sign-in.err"); then
    cookie=$(sed -n 1p <<<"$signed")
    step=$(sed -n 2p <<<"$signed")
    lighthouse "$t form step" "$base$step" "$cookie"
    lighthouse "$t /area-personale" "$base/area-personale" "$cookie"
  else
    echo "| $t signed-in pages | sign-in failed: $(tail -1 "$work/sign-in.err") |"
  fi
done
