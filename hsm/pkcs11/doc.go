// Package pkcs11 is the security module of package hsm on a PKCS#11 token: a
// hardware security module, or SoftHSM2 in tests. It implements [hsm.Module]
// with keys generated and used inside the token; no clear key is ever read
// out of it, and Config.Kind "pkcs11" chooses it.
//
// It needs cgo (the token's library is loaded with dlopen); built without
// cgo, [Open] fails and says so.
//
// # Keys in the token
//
// Every key version is a secret-key object: token, private, sensitive, not
// extractable, with only the usage its job needs (a DEK encrypts and
// decrypts, a MAC key signs or encrypts, a ZMK unwraps). Its CKA_LABEL is the
// key id, its CKA_ID a short JSON record of type, algorithm, version, key
// check value, time and origin, so that a listing of the token is the key
// list. The newest version is current; older ones stay to decrypt PANs and
// verify CVV2 hashes they made, and the previous MAC key version is accepted
// for hsm.Config.MACGrace after a change, as in the software module.
//
// # How each job is done, and what SoftHSM2 2.6 lacks
//
//   - PAN encryption: CKM_AES_GCM with a 96-bit random nonce. The ciphertext
//     has the software module's layout with format byte 2
//     ([hsm.PANFormatPKCS11]); each module refuses the other's as such.
//   - Tokens and CVV2 hashes: CKM_SHA256_HMAC over the same input and in the
//     same format as the software module, so the same key gives the same
//     tokens.
//   - AES-CMAC MACs: CKM_AES_CMAC, truncated to 64 bits.
//   - The retail MAC (ISO 9797-1 MAC algorithm 3, double-length DES key
//     K‖K'): no token offers it (X9.19 MAC mechanisms are vendor-defined), so
//     it is composed of two standard mechanisms. Each retail-MAC key is two
//     objects: K‖K' and K‖K (TDES with equal halves is single DES under K).
//     CKM_DES3_CBC under K‖K over all blocks but the last gives the single-DES
//     CBC-MAC chain; the last block, XORed in, is encrypted with CKM_DES3_ECB
//     under K‖K', which is the output transformation. The chaining values
//     pass through the switch's memory: anyone who can read that memory could
//     search the 2^56 keys of K from them. A token with a vendor X9.19
//     mechanism avoids that; this package does not use vendor mechanisms.
//   - New keys: derived in the token (CKM_AES_ECB_ENCRYPT_DATA or
//     CKM_DES3_ECB_ENCRYPT_DATA) from a random session key of the token's own
//     generation and random data; deriving is also how the two halves-objects
//     of a retail-MAC key get the same K without K ever leaving the token.
//   - Key check values: computed by the token when a version is made, on a
//     session "twin" of the key that may encrypt (TDES: encrypted zeros) or
//     CMAC (AES and HMAC keys: AES-CMAC of a zero block, ANSI X9.24-1), so
//     that the key itself keeps only the usage of its job; recorded in the
//     key's CKA_ID. The twin is made the same way as the key and destroyed.
//   - Keys a bank sends under a ZMK (DE70 161): under an AES ZMK, unwrapped
//     in the token (CKM_AES_KEY_WRAP, RFC 3394). Under a TDES ZMK the bank
//     sends TDES-ECB; a token with CKM_DES3_ECB unwrap unwraps it itself, but
//     SoftHSM2 2.6 can unwrap with AES key wrap only. On such a token, and
//     for a retail-MAC key under an AES ZMK (its halves cannot be split out
//     of one unwrapped object), the import needs the clear key in the
//     switch's memory for a moment: the token decrypts it and the switch
//     re-enters it. That happens only with hsm.pkcs11.allow_host_unwrap set;
//     otherwise such a key change is refused and says why.
//   - Zone master keys from components (`tulpar keys import-zmk`): the
//     components are typed in clear, so the combined key is created in the
//     token from the switch's memory (C_CreateObject), checked against the
//     agreed check value, and cleared.
//
// # Sessions and the library
//
// A PKCS#11 library is initialised once per process: every Module on the
// same library shares it and the last Close finalises it. A Module keeps a
// fixed pool of logged-in sessions (hsm.pkcs11.sessions); an operation waits
// for a free one or for its context.
package pkcs11
