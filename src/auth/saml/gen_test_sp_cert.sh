#!/usr/bin/env bash
# Generates a throw-away SPID-profile (Avviso 29 v3, public sector) self-signed
# SP signing key + certificate for tests. Nothing generated here is committed.
# usage: gen_test_sp_cert.sh OUT_DIR ENTITY_ID IPA_CODE [ORG_NAME] [LOCALITY]
set -euo pipefail
out=${1:?out dir}; entity_id=${2:?entity id}; ipa=${3:?ipa code}
org=${4:-Comune di Valmora}; loc=${5:-Valmora}
mkdir -p "$out"
cat > "$out/openssl.cnf" <<CNF
oid_section = spid_oids
[ spid_oids ]
agidcert = 1.3.76.16.6
spidpublic = 1.3.76.16.4.2.1
subjUri = 2.5.4.83
[ req ]
prompt = no
distinguished_name = dn
x509_extensions = ext
string_mask = utf8only
[ dn ]
O = ${org}
CN = ${org}
subjUri = ${entity_id}
organizationIdentifier = PA:IT-${ipa}
C = IT
L = ${loc}
[ ext ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
certificatePolicies = @pol_root, @pol_agid, @pol_pub
subjectKeyIdentifier = hash
[ pol_root ]
policyIdentifier = 1.3.76.16
userNotice.1 = @n_root
[ n_root ]
explicitText = "AgIDroot"
[ pol_agid ]
policyIdentifier = 1.3.76.16.6
userNotice.1 = @n_agid
[ n_agid ]
explicitText = "agIDcert"
[ pol_pub ]
policyIdentifier = 1.3.76.16.4.2.1
userNotice.1 = @n_pub
[ n_pub ]
explicitText = "cert_SP_Pub"
CNF
openssl req -new -x509 -config "$out/openssl.cnf" -newkey rsa:3072 -nodes -sha256 \
  -days 730 -keyout "$out/sp.key" -out "$out/sp.crt" 2>/dev/null
echo "$out/sp.key $out/sp.crt"
