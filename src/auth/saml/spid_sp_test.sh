#!/usr/bin/env bash
# Runs AgID's spid-sp-test against an already running SP (starts nothing).
#
# usage: spid_sp_test.sh BASE_URL [OUT_DIR]
#   BASE_URL  e.g. http://localhost:8089  (the SP must serve
#             $BASE_URL/accesso/spid/metadata, /accesso/spid/login, /accesso/spid/acs)
#   OUT_DIR   where JSON reports and logs go (default: ./spid-sp-test-out)
# env: SPID_SP_TEST     path of the spid_sp_test executable (default: spid_sp_test)
#      SPID_PROFILE     spid-sp-test profile (default: spid-sp-public; the CIE
#                       SP is checked with cie-sp-public and SP_PATH=/accesso/cie)
#      SP_PATH          where the SP's metadata, login and ACS live
#                       (default: /accesso/spid)
#      SPID_LEVELS      levels of the response suite (default: "2 1 3")
#      SPID_LOGIN_PATH  login path (default: $SP_PATH/login); it must accept
#                       ?level=1|2|3 and &binding=redirect, answer 200 with the
#                       POST form (or 302 for redirect) and set whatever cookie
#                       binds the pending request to the ACS POST.
#
# Needs: pip install spid-sp-test==1.2.18 (in a venv), apt xmlsec1.
# Fixtures, made at test time, nothing committed:
#   gen_test_sp_cert.sh DIR "$BASE_URL/accesso/spid/metadata" c_x000  -> DIR/sp.key, DIR/sp.crt
#   spid_sp_test --idp-metadata > idp.xml        (the IdP the SP must trust)
#
# The SP must have been started with the spid-sp-test IdP metadata
# (`spid_sp_test --idp-metadata > idp.xml`) and, since that IdP's certificate
# expired on 2025-03-08, with the explicit test-only trust option
# (`spid.trust_test_idp_cert = true`); never enable that in production.
#
# How spid-sp-test decides: metadata and AuthnRequest checks inspect the
# documents (XSD, SPID rules, xmlsec1 signature verification, certificate
# profile). Response tests POST a crafted, IdP-signed SAMLResponse to the ACS
# and pass only on the HTTP status: 200 expected for good responses
# (1, 31, 94-96 when level ≥ requested, 109, 110), one of 400/401/403/422/500
# for every bad one (103 accepts 200/400/403/500). The body is ignored.
set -uo pipefail
base=${1:?usage: spid_sp_test.sh BASE_URL [OUT_DIR]}
out=${2:-./spid-sp-test-out}
bin=${SPID_SP_TEST:-spid_sp_test}
profile=${SPID_PROFILE:-spid-sp-public}
mkdir -p "$out"
sp=${SP_PATH:-/accesso/spid}
md="$base$sp/metadata"
login="$base${SPID_LOGIN_PATH:-$sp/login}"
rc=0

summary() { # $1 = report json, $2 = label
  python3 - "$1" "$2" <<'PY'
import json, os, sys
path, label = sys.argv[1], sys.argv[2]
if not os.path.exists(path):
    print(f"{label}: no report (spid_sp_test crashed? see {path[:-5]}.log)"); sys.exit(0)
d = json.load(open(path))["test"]["sp"]
for cat, tests in d.items():
    ok = ko = warn = 0
    fails = []
    for name, res in tests.items():
        for r in (res if isinstance(res, list) else [res]):
            s = r.get("result")
            if s == "success": ok += 1
            elif s == "warning": warn += 1
            else:
                ko += 1; fails.append(f"    FAIL {r.get('test_id')} {r.get('test')} {r.get('value','')[:120]}")
    print(f"  {label} [{cat}]: {ok} passed, {ko} failed, {warn} warnings")
    if fails: print("\n".join(fails))
PY
}

run() { # $1 = label/file stem, rest = extra args
  local name=$1; shift
  "$bin" --metadata-url "$md" --extra -pr "$profile" -d ERROR -rf json -o "$out/$name.json" "$@" \
    >"$out/$name.log" 2>&1 || rc=1
  summary "$out/$name.json" "$name"
  grep -h "Spid QA" "$out/$name.log" | sed 's/^/  spid_sp_test says: /'
}

echo "== metadata only (--extra, profile $profile)"
run metadata
echo "== AuthnRequest, HTTP-POST, SpidL2"
run authn-post-l2 --authn-url "$login?level=2"
echo "== AuthnRequest, HTTP-Redirect, SpidL2"
run authn-redirect-l2 --authn-url "$login?level=2&binding=redirect"
for lvl in ${SPID_LEVELS:-2 1 3}; do
  echo "== response test-suite (-tr), HTTP-POST, SpidL$lvl"
  run "responses-l$lvl" --authn-url "$login?level=$lvl" -tr
done
exit $rc
