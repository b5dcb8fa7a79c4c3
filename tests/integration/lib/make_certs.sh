#!/usr/bin/env bash
# make_certs.sh DIR: the TLS fixtures for `edge trace`'s tests (OpenSSL 3.0, EC P-256 keys).
# Creates in DIR a test root CA (ca.pem, ca.key), an intermediate CA it signs (inter.pem,
# inter.key), and server certificates for www.test / 10.99.2.2, each as NAME.pem (the chain
# nginx should serve), NAME.key and NAME-leaf.pem (the leaf alone):
#   good        signed by the intermediate, valid now, SAN DNS:www.test, IP:10.99.2.2,
#               IP:fd99:2::2; good.pem = good-chain.pem = leaf + intermediate
#   expired     valid 2020-01-01 .. 2020-02-01 (verify error 10)
#   notyet      valid 2040-01-01 .. 2041-01-01 (verify error 9)
#   wrongname   SAN DNS:other.test only (error 62 when checked against www.test)
#   selfsigned  a self-signed leaf for www.test (error 18)
#   nointer     the good leaf and key, served without the intermediate (error 20)
# and client certificates for servers that ask for one:
#   client      CN "edge test client", signed by the root CA, extendedKeyUsage clientAuth
#   rogue       CN "rogue client", self-signed: a client certificate no server here trusts
# and for an https:// proxy on the router:
#   proxy       signed by the intermediate, SAN DNS:proxy.test, IP:10.99.1.1 (proxy.pem: chain)
# Back-dated and future dates need `openssl ca -startdate/-enddate` (OpenSSL 3.0's `req -x509`
# and `x509 -req` cannot set them). Ends by verifying every certificate and printing what
# OpenSSL says; exits non-zero when a certificate does not fail (or pass) as intended.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: make_certs.sh DIR" >&2; exit 2; }
dir=$1
mkdir -p "$dir"
cd "$dir"
db=ca-db
rm -rf "$db"
mkdir -p "$db/new"
: >"$db/index.txt"

cat >"$db/openssl.cnf" <<'CNF'
[ ca ]
default_ca = edge_ca

[ edge_ca ]
dir = ca-db
database = $dir/index.txt
new_certs_dir = $dir/new
rand_serial = yes
unique_subject = no
default_md = sha256
default_days = 825
policy = policy_any
copy_extensions = none
email_in_dn = no

[ policy_any ]
commonName = supplied

[ req ]
distinguished_name = req_dn
prompt = no

[ req_dn ]
CN = unused

[ root_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ inter_ca ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ leaf_www ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = DNS:www.test, IP:10.99.2.2, IP:fd99:2::2

[ leaf_other ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = DNS:other.test

[ leaf_proxy ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = DNS:proxy.test, IP:10.99.1.1

[ leaf_client ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ leaf_self ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
subjectAltName = DNS:www.test, IP:10.99.2.2, IP:fd99:2::2
CNF
cnf=$db/openssl.cnf

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# Root CA: self-signed, ten years.
newkey ca.key
openssl req -config "$cnf" -new -x509 -key ca.key -subj "/CN=edge test root CA" -days 3650 \
  -extensions root_ca -out ca.pem

# sign ISSUER SECTION NAME CN [startdate enddate]: CSR for NAME.key, signed with `openssl ca`.
sign() {
  local issuer=$1 ext=$2 name=$3 cn=$4 dates=()
  [ $# -ge 6 ] && dates=(-startdate "$5" -enddate "$6")
  openssl req -config "$cnf" -new -key "$name.key" -subj "/CN=$cn" -out "$db/$name.csr"
  openssl ca -config "$cnf" -batch -notext -cert "$issuer.pem" -keyfile "$issuer.key" \
    -extensions "$ext" "${dates[@]}" -in "$db/$name.csr" -out "$db/$name.crt" 2>/dev/null
}

newkey inter.key
sign ca inter_ca inter "edge test intermediate CA"
cp "$db/inter.crt" inter.pem

leaf() {  # leaf NAME SECTION CN [startdate enddate]
  local name=$1; shift
  newkey "$name.key"
  sign inter "$1" "$name" "${@:2}"
  cp "$db/$name.crt" "$name-leaf.pem"
  cat "$name-leaf.pem" inter.pem >"$name.pem"
}
leaf good leaf_www www.test
cp good.pem good-chain.pem
leaf expired leaf_www www.test 20200101000000Z 20200201000000Z
leaf notyet leaf_www www.test 20400101000000Z 20410101000000Z
leaf wrongname leaf_other other.test
leaf proxy leaf_proxy proxy.test

newkey selfsigned.key
openssl req -config "$cnf" -new -x509 -key selfsigned.key -subj "/CN=www.test" -days 825 \
  -extensions leaf_self -out selfsigned-leaf.pem
cp selfsigned-leaf.pem selfsigned.pem

newkey client.key
sign ca leaf_client client "edge test client"
cp "$db/client.crt" client.pem
newkey rogue.key
openssl req -config "$cnf" -new -x509 -key rogue.key -subj "/CN=rogue client" -days 825 -out rogue.pem

cp good-leaf.pem nointer-leaf.pem
cp good-leaf.pem nointer.pem
cp good.key nointer.key

# Verification: once with the intermediate supplied (-untrusted inter.pem), once "as served"
# (only the certificates in NAME.pem, checked against the name www.test).
status=0
check() {  # check NAME EXPECTED_SERVED_CODE
  local name=$1 want=$2 out1 out2 got
  out1=$(openssl verify -CAfile ca.pem -untrusted inter.pem "$name-leaf.pem" 2>&1 | tr '\n' ' ') || true
  out2=$(openssl verify -CAfile ca.pem -untrusted "$name.pem" -verify_hostname www.test \
    "$name-leaf.pem" 2>&1 | tr '\n' ' ') || true
  got=$(sed -n 's/.*error \([0-9]*\) at.*/\1/p' <<<"$out2")
  [[ $out2 == *": OK"* ]] && got=0
  printf '%-10s with inter.pem: %s\n%-10s as served:     %s\n' "$name" "$out1" "" "$out2"
  if [ "$got" != "$want" ]; then
    echo "make_certs.sh: $name verifies as ${got:-?}, expected $want" >&2
    status=1
  fi
}
check good 0
check expired 10
check notyet 9
check wrongname 62
check selfsigned 18
check nointer 20
if ! openssl verify -CAfile ca.pem -purpose sslclient client.pem >/dev/null 2>&1; then
  echo "make_certs.sh: client.pem does not verify as a client certificate" >&2
  status=1
fi
exit $status
