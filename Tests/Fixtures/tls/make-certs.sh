#!/usr/bin/env bash
# Makes throw-away TLS material for the tests in DIR (no private key is ever committed):
#   cert.pem / key.pem         server, CN=localhost, SAN localhost + 127.0.0.1, 2 days
#   cert2.pem / key2.pem       a second server pair (rotation tests)
#   other-key.pem              a key that matches no certificate
#   ca.pem / ca-key.pem        a client CA; client.pem / client-key.pem signed by it
set -euo pipefail
dir=${1:?usage: make-certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
server() {
  openssl req -x509 "${ec[@]}" -days 2 -subj "/CN=localhost/O=$1" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$2" -out "$3" 2>/dev/null
}
server first key.pem cert.pem
server second key2.pem cert2.pem
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other-key.pem 2>/dev/null
openssl req -x509 "${ec[@]}" -days 2 -subj "/CN=test client CA" -keyout ca-key.pem -out ca.pem 2>/dev/null
openssl req "${ec[@]}" -subj "/CN=test client" -keyout client-key.pem -out client.csr 2>/dev/null
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 -out client.pem 2>/dev/null
