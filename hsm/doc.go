// Package hsm is what Tulpar asks of a hardware security module: MACs on bank
// links, keys exchanged under a zone master key, card data protected at rest,
// and key check values an operator can read aloud.
//
// The rest of Tulpar talks to a [Module]. [Soft] is the software module: keys
// live in a [KeyStore], each key version wrapped (AES-256-GCM) under a local
// [MasterKey] that comes from a file or an environment variable, never from
// the config in clear. Package hsm/pkcs11 satisfies the same interface with
// keys generated and used inside a PKCS#11 token (Config.Kind "pkcs11"),
// which is why [Module] speaks in key ids and bytes and never hands out a
// clear key. The formats below are exported ([AppendPANHeader],
// [FormatPANToken], [FormatCVVHash] and their inputs) so that both modules
// write the same bytes: the same key gives the same MACs, tokens and CVV2
// hashes in either.
//
// # What this package must never do
//
//   - return, log or put in an error a clear key (the one exception is
//     [MasterKey.ExportHex], which only `tulpar keys init-master --show` calls),
//     a full PAN or a CVV2;
//   - store a CVV2: [Module.HashCVV] gives a keyed hash for the simulator's card
//     book, and nothing can turn it back into the value;
//   - import net/http, bbolt or anything of Tulpar's: it is a leaf (DESIGN.md,
//     layer 0).
//
// # Formats, conventions and standards
//
//   - MACs for DE64/DE128 are 8 bytes. Per key, the algorithm the bank uses:
//     ISO/IEC 9797-1 MAC algorithm 3 with DES (the "retail MAC" of ANSI X9.19)
//     with padding method 1 or 2, or AES-CMAC (NIST SP 800-38B, RFC 4493)
//     truncated to its leftmost 64 bits as SP 800-38B section 5.5 allows.
//   - Key check values are 3 bytes in upper-case hex: for TDES keys the
//     encryption of an all-zero block; for AES (and the 256-bit HMAC keys) the
//     AES-CMAC of a 16-byte zero block, the only method ANSI X9.24-1:2017 and
//     PCI PIN requirement 15-1 allow for AES.
//   - Keys sent by a bank under a zone master key: a TDES ZMK wraps with TDES
//     in ECB mode (the classic X9.17 form, no key-block header); an AES ZMK
//     wraps with AES key wrap (RFC 3394). TR-31 key blocks are a later issue.
//   - A PAN ciphertext is self-describing (see [ParsePANCiphertext]): format
//     byte (which module made it), key id, key version, nonce, AES-256-GCM
//     output, with the header as associated data, so old versions still
//     decrypt after a rotation and no header byte can be changed unnoticed.
//   - AES-GCM with random 96-bit nonces is safe for 2^32 encryptions per key
//     version (NIST SP 800-38D section 8.3): rotate the data-encryption key well
//     before that (at 1,000 encryptions a second, monthly is comfortable).
package hsm
