#!/bin/bash
# Smoke test of op.mjs with curl only: PKCE + state + nonce, scripted login,
# code exchange, nonce check, replayed code refused. Run from the repository
# root (oidc-provider installed in node_modules):  bash infra/test/oidc/smoke.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
WORK=$(mktemp -d)
node infra/test/oidc/op.mjs --port 0 >"$WORK/op.out" 2>"$WORK/op.err" &
OP=$!
trap 'kill $OP 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do grep -q '^READY ' "$WORK/op.out" && break; sleep 0.1; done
ISSUER=$(awk '/^READY /{print $2}' "$WORK/op.out")
[ -n "$ISSUER" ] || { cat "$WORK/op.err"; exit 1; }
echo "issuer: $ISSUER"

JAR="$WORK/cookies"
CLIENT=sportello-valmora SECRET=sportello-valmora-secret
REDIRECT='http://valmora.localhost:43210/backoffice/accesso/oidc/callback'
VERIFIER=$(openssl rand -base64 48 | tr '+/' '-_' | tr -d '=\n')
CHALLENGE=$(printf %s "$VERIFIER" | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '=\n')
STATE=$(openssl rand -hex 12) NONCE=$(openssl rand -hex 12)
loc() { awk 'tolower($1)=="location:"{print $2}' "$1" | tr -d '\r'; }

# 1. authorization request -> 303 to /interaction/<uid> (sets _interaction* cookies)
curl -sS -o /dev/null -D "$WORK/h1" -c "$JAR" -b "$JAR" -G "$ISSUER/auth" \
  --data-urlencode response_type=code --data-urlencode client_id=$CLIENT \
  --data-urlencode redirect_uri=$REDIRECT --data-urlencode 'scope=openid email profile' \
  --data-urlencode state=$STATE --data-urlencode nonce=$NONCE \
  --data-urlencode code_challenge=$CHALLENGE --data-urlencode code_challenge_method=S256
INTERACTION=$(loc "$WORK/h1"); echo "1. GET /auth -> $(head -1 "$WORK/h1" | tr -d '\r') -> $INTERACTION"

# 2. (optional) the login form
echo "2. GET interaction -> $(curl -sS -o /dev/null -w '%{http_code}' -c "$JAR" -b "$JAR" "$INTERACTION")"

# 3. post the form -> 303 to /auth/<uid> (resume)
curl -sS -o /dev/null -D "$WORK/h3" -c "$JAR" -b "$JAR" "$INTERACTION" \
  --data-urlencode login=mario.rossi@valmora.example --data-urlencode password=password
RESUME=$(loc "$WORK/h3"); echo "3. POST login -> $(head -1 "$WORK/h3" | tr -d '\r') -> $RESUME"

# 4. resume -> 303 to redirect_uri?code=...&state=...&iss=...
curl -sS -o /dev/null -D "$WORK/h4" -c "$JAR" -b "$JAR" "$RESUME"
CALLBACK=$(loc "$WORK/h4"); echo "4. GET resume -> $(head -1 "$WORK/h4" | tr -d '\r') -> $CALLBACK"
CODE=$(python3 - "$CALLBACK" "$STATE" <<'PY'
import sys, urllib.parse
q = urllib.parse.parse_qs(urllib.parse.urlsplit(sys.argv[1]).query)
assert q["state"] == [sys.argv[2]], "state mismatch"
print(q["code"][0])
PY
)

# 5. token request (client_secret_basic) with the PKCE verifier
token() {
  curl -sS -w '\n%{http_code}' -u "$CLIENT:$SECRET" "$ISSUER/token" \
    --data-urlencode grant_type=authorization_code --data-urlencode "code=$CODE" \
    --data-urlencode "redirect_uri=$REDIRECT" --data-urlencode "code_verifier=$1"
}
RESP=$(token "$VERIFIER"); [ "$(tail -1 <<<"$RESP")" = 200 ] || { echo "token: $RESP"; exit 1; }
python3 - "$NONCE" <<PY
import base64, json, sys
tok = json.loads('''$(head -1 <<<"$RESP")''')
seg = tok["id_token"].split(".")[1]
claims = json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))
assert claims["nonce"] == sys.argv[1], "nonce mismatch"
print("5. token -> 200, id_token claims:", json.dumps(claims))
PY

# 6. the same code again -> 400 invalid_grant
RESP=$(token "$VERIFIER"); echo "6. replay -> $(tail -1 <<<"$RESP") $(head -1 <<<"$RESP")"
[ "$(tail -1 <<<"$RESP")" = 400 ]
echo "smoke: 1 passed, 0 failed"
