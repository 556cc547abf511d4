#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Regenerate the cosignature/v1 test vector with the openssl command line
# only (no vitrine code), from a fixed seed. Ed25519 is deterministic, so
# running this again gives the same bytes. Usage: make-cosig-vector.sh DIR
set -eu
out=${1:-.}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

name='witness.example/w1'
seed_hex=9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60
timestamp=1679315147
body='example.com/behind-the-sofa
20852163
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=
'

hex2bin() { printf '%s' "$1" | xxd -r -p; }
b64() { base64 -w0; }

# PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410).
{ hex2bin 302e020100300506032b657004220420; hex2bin "$seed_hex"; } >"$tmp/key.der"
openssl pkey -inform DER -in "$tmp/key.der" -out "$tmp/key.pem"
openssl pkey -in "$tmp/key.pem" -pubout -outform DER | tail -c 32 >"$tmp/pub"

# Key id: SHA-256(name || "\n" || 0x04 || pub)[:4].
{ printf '%s\n' "$name"; hex2bin 04; cat "$tmp/pub"; } >"$tmp/idinput"
id=$(openssl dgst -sha256 -binary "$tmp/idinput" | head -c 4 | xxd -p)

# Signed message: "cosignature/v1\ntime <ts>\n" || body.
printf 'cosignature/v1\ntime %s\n%s' "$timestamp" "$body" >"$tmp/msg"
openssl pkeyutl -sign -rawin -inkey "$tmp/key.pem" -in "$tmp/msg" -out "$tmp/sig"

# Signature bytes: key id || uint64 big-endian timestamp || Ed25519 signature.
ts_hex=$(printf '%016x' "$timestamp")
sig=$({ hex2bin "$id"; hex2bin "$ts_hex"; cat "$tmp/sig"; } | b64)

vkey="$name+$id+$({ hex2bin 04; cat "$tmp/pub"; } | b64)"
skey="PRIVATE+KEY+$name+$id+$({ hex2bin 04; hex2bin "$seed_hex"; } | b64)"

printf '%s' "$body" >"$out/cosig-v1.body"
{ printf '%s\n' "$body"; printf '\342\200\224 %s %s\n' "$name" "$sig"; } >"$out/cosig-v1.note"
{
	printf 'skey %s\n' "$skey"
	printf 'vkey %s\n' "$vkey"
	printf 'time %s\n' "$timestamp"
	printf 'sigline \342\200\224 %s %s\n' "$name" "$sig"
} >"$out/cosig-v1.keys"
cp "$tmp/msg" "$out/cosig-v1.msg"
