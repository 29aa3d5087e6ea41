#!/usr/bin/env bash
# Creates a development PKI with openssl for Tally's mutual TLS:
#   scripts/dev-pki.sh OUT_DIR EDGE_ID… [--test-certs]
# OUT_DIR gets:
#   edge-ca.crt / edge-ca.key          CA that signs edge client certificates (central trusts it)
#   central-ca.crt / central-ca.key    CA that signs central's server certificate (edges trust it)
#   central.crt / central.key          central's server certificate for localhost and 127.0.0.1
#   edge-ID.crt / edge-ID.key          one client certificate per edge, subject CN = the edge id
# With --test-certs, also certificates a test needs to see refused:
#   other-ca.crt, other-edge.crt/.key  an edge certificate from a CA central does not trust
#   expired-ID.crt/.key                an expired certificate for the first edge id
# Keys are ECDSA P-256 with mode 0600. For development and tests only: use your own CA in production.
set -euo pipefail

[ $# -ge 2 ] || { echo "usage: dev-pki.sh OUT_DIR EDGE_ID... [--test-certs]" >&2; exit 2; }
out=$1; shift
test_certs=false
edges=()
for arg in "$@"; do
  if [ "$arg" = "--test-certs" ]; then test_certs=true; else edges+=("$arg"); fi
done
[ ${#edges[@]} -ge 1 ] || { echo "dev-pki.sh: name at least one edge id" >&2; exit 2; }

mkdir -p "$out"
cd "$out"
umask 077

new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

make_ca() { # name subject
  new_key "$1.key"
  openssl req -x509 -new -key "$1.key" -sha256 -days 3650 -subj "$2" -out "$1.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

sign() { # name ca subject extensions-file [days]
  new_key "$1.key"
  openssl req -new -key "$1.key" -subj "$3" -out "$1.csr" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial -sha256 \
    -days "${5:-825}" -extfile "$4" -out "$1.crt" 2>/dev/null
  rm -f "$1.csr"
}

cat > server.ext <<'EXT'
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
EXT

make_ca edge-ca "/CN=Tally development edge CA"
make_ca central-ca "/CN=Tally development central CA"
sign central central-ca "/CN=localhost" server.ext

for id in "${edges[@]}"; do
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\nsubjectAltName=URI:tally-edge:%s\n' "$id" > client.ext
  sign "edge-$id" edge-ca "/CN=$id" client.ext
done

if $test_certs; then
  make_ca other-ca "/CN=Untrusted CA"
  sign other-edge other-ca "/CN=${edges[0]}" client.ext
  # An expired certificate: openssl ca takes explicit start and end dates.
  new_key "expired-${edges[0]}.key"
  openssl req -new -key "expired-${edges[0]}.key" -subj "/CN=${edges[0]}" -out expired.csr 2>/dev/null
  mkdir -p ca-db
  : > ca-db/index.txt
  cat > ca.cnf <<CNF
[ca]
default_ca = dev
[dev]
database = ca-db/index.txt
new_certs_dir = ca-db
serial = ca-db/serial
default_md = sha256
policy = any
unique_subject = no
[any]
commonName = supplied
CNF
  echo 1000 > ca-db/serial
  openssl ca -batch -config ca.cnf -cert edge-ca.crt -keyfile edge-ca.key -in expired.csr \
    -startdate 20200101000000Z -enddate 20200102000000Z -extfile client.ext -notext -preserveDN \
    -out "expired-${edges[0]}.crt" 2>/dev/null
  rm -rf expired.csr ca-db ca.cnf
fi
rm -f server.ext client.ext ./*.srl
chmod 600 ./*.key
chmod 644 ./*.crt
echo "Development PKI in $out: edge CA, central CA, central (localhost), edges: ${edges[*]}"
