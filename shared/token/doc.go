// Package token is Tollgate's signed-document primitive and the two documents
// that everything else stands on: the license token and the revocation list.
//
// Every signed document has one text form:
//
//	tg1.KIND.KEYID.PAYLOAD.SIGNATURE
//
// "tg1" is the format version. KIND is a three-letter document kind ("lic",
// "rev", …). KEYID is the 16 lowercase hex digits that name the signing key
// (the first 8 bytes of SHA-256 over the raw Ed25519 public key). PAYLOAD is
// canonical JSON in unpadded base64url; SIGNATURE is the 64-byte Ed25519ctx
// signature over the exact payload bytes, in unpadded base64url. The Ed25519
// context string is per kind ("tollgate/v1/lic", …), so a signature made for
// one kind never verifies as another even if the payload bytes were equal.
//
// Parsing is strict: a size cap per kind, exactly five fields, only the
// base64url alphabet, canonical base64 (no padding, no stray bits), a known
// version and kind, a signature scalar below the group order, and a payload
// that re-encodes to exactly itself — which refuses duplicate keys,
// case-variant keys, unknown or missing fields, whitespace and trailing data.
package token
