// Package journal is Tulpar's append-only, tamper-evident, durable record of
// every message the switch receives or sends and every order state change.
//
// It owns the journal buckets of a bbolt file: the hash chain, the group
// commit that makes an entry durable before the merchant hears the answer,
// and the checks that find any edit, deletion, reordering or gap. It imports
// nothing of Tulpar's. It must never see card data in clear and never
// interpret a payload: callers hand it bytes already protected (PAN encrypted
// or tokenised, CVV2 and CAVV dropped).
//
// # Writing
//
// Append and AppendTx queue entries to one writer goroutine. Each round the
// writer takes every queued request and commits them in one bbolt
// transaction (one fsync for many callers), assigning sequence numbers and
// previous-entry hashes itself so that chain order is sequence order. A call
// returns only after its transaction has committed.
//
// # Sharing the file with the order store
//
// The order store should live in the same bbolt file (open it with bbolt,
// pass the DB to New) and change only inside AppendTx's TxFunc, in the
// transaction that journals the messages that caused the change. After a
// crash at any instant, the file then holds either both the entries and the
// order change or neither, so rebuilding orders from the journal always
// equals the order store. Two files could not promise that: a SIGKILL between
// their two fsyncs leaves them disagreeing.
//
// # On-disk format
//
// Three buckets at the root of the bbolt file:
//
//	"journal"        key: seq, 8 bytes big-endian, from 1 without gaps
//	                 value: the entry, below
//	"journal.order"  key: len(order id) as 2 bytes big-endian, order id,
//	                      the chunk's first seq as 8 bytes big-endian
//	                 value: the chunk's later seqs, each the uvarint of
//	                      its step from the one before (never zero);
//	                      empty for a chunk of one (orderindex.go)
//	"journal.meta"   "version": 1 byte: 1, 2 (compressed entries), 3
//	                            (index chunks), 4 (entries without seq
//	                            and previous hash) or 5 (entries without
//	                            their hash); see fileVersion
//	                 "head":    last seq (8 bytes big-endian) then its hash
//	                            (32 bytes), rewritten in every commit
//	                 "base":    first seq this file holds (8 bytes) then the
//	                            hash of the entry before it (32 bytes); absent:
//	                            entry 1 and the zero hash
//	                 "retained" (live file) first seq kept in any file, then
//	                            its predecessor's hash; absent: entry 1
//
// # Archives
//
// Archive moves the entries of closed business days out of the live file
// into archive files (archive.go): bbolt files with the same three buckets
// holding one stretch of the chain, written and fsynced in full, then
// renamed into place and opened read-only, before the live file's base
// moves past them. Readers take the archives and the live file as one
// history; Verify checks each file and that each begins where the one
// before ended. Prune removes the oldest archives and moves "retained".
//
// An entry's canonical encoding (EncodeEntry) is its body followed by the
// SHA-256 of the body:
//
//	body:
//	  0x01                  format version
//	  uvarint  seq          equal to the key
//	  varint   time         Unix nanoseconds, zig-zag (encoding/binary Varint)
//	  byte     direction    1 in, 2 out, 3 internal
//	  uvarint  n, n bytes   channel ("api", "3ds", "callback", "state" or a
//	                        bank link name), 1..64 bytes
//	  uvarint  n, n bytes   order id, 0..255 bytes
//	  uvarint  n, n bytes   MTI, 0..255 bytes
//	  uvarint  n, n bytes   STAN, 0..255 bytes
//	  uvarint  n, n bytes   RRN, 0..255 bytes
//	  uvarint  n, n bytes   payload (protected message bytes)
//	  32 bytes              hash of entry seq-1; all zero for entry 1
//	hash:
//	  32 bytes              SHA-256(body)
//
// Varints are those of encoding/binary and must be minimal, so every entry
// has exactly one encoding. Because each body includes the previous hash,
// changing any byte of any entry changes every later hash.
//
// The journal stores an entry in a form of its own (version 4), with the
// same fields and the same hash as the canonical encoding:
//
//	0x04                  stored version
//	varint   time
//	byte     direction, plus 0x80 when the order id is packed
//	uvarint  n, n bytes   channel
//	16 bytes, or          order id: a UUID in the switch's own form (36
//	uvarint n, n bytes    characters, lower-case hex) as its 16 bytes;
//	                      any other id as text
//	uvarint  n, n bytes   MTI, then STAN, then RRN
//	uvarint  n, n bytes   the payload's compact form (switch/compact: a
//	                      codec byte, then the payload, compressed with S2
//	                      against a built-in dictionary when that is
//	                      smaller; an order's JSON to about a third)
//	32 bytes              the entry's hash
//
// The seq is the value's key and the previous hash the last 32 bytes of
// the value before (the file's "base" record's for its first entry), so
// neither is stored again; the hash is the canonical encoding's, over all
// of them and the payload as written, so the chain does not depend on how
// an entry is kept, and an entry read under another seq or after another
// entry does not check out. Readers take every earlier version too: 0x01
// (canonical, before compression), 0x02 (canonical layout, compact
// payload), 0x03 (0x02 with the packed order id); each of those carries
// its seq and previous hash.
//
// Most entries do not store their hash either (version 5: the version 4
// value without its last 32 bytes). A commit round stores the hash of its
// last entry and of each entry whose seq is a multiple of 16; an entry
// between has the hash that follows from its predecessor's, and the next
// stored hash, or the head record after a file's last entry, is only
// right if every entry since the last stored one is. Readers hash back
// from the stored hash before an entry and on to the one after it before
// they hand it on; Verify names an edit by the stretch of entries the
// first stored hash after it covers. A value without its hash at a seq
// that is a multiple of 16, or one of versions 1 to 3 after values
// without theirs, is no writer's and is refused: a stretch stays short. An archive can end, and the live
// file begin, inside such a stretch: the archive's head record and the
// live file's base carry the hash across. A writer raises an older file's
// meta "version" to 5 when it opens it, so an older build refuses it.
//
// # Opening a damaged file
//
// Open runs the switch on the data file, so it refuses a file it cannot
// trust rather than quietly start over or crash. A missing file is a fresh
// install and is created. An existing one is refused with a *DamagedError
// (errors.Is(err, ErrDamaged)) when:
//
//   - it is empty: bbolt would initialise it as a new database, and the
//     switch would run on an empty journal as if no money had ever moved;
//   - it is shorter than the two meta pages every bbolt file begins with;
//   - neither meta page is valid (bbolt's magic number, format version and
//     checksum): it is not a bbolt file, or not one this build reads;
//   - it is truncated: the meta page's high-water page id times the page
//     size lies beyond the end of the file. bbolt maps the file and would
//     read past its end: a SIGBUS, or, past the mapping, whatever memory
//     lies there;
//   - bbolt panics or faults while Open reads it (a damaged page inside):
//     Open recovers and refuses;
//   - among the last 1000 entries (tailCheck) one fails to decode, to hash
//     to its stored hash or to carry its predecessor's hash, or one is
//     missing; or the head record does not name the last entry and its hash.
//     Appending after such a tail would bury the damage under valid new
//     links. Only the tail is checked so that start-up stays fast on a
//     journal of millions of entries; Verify (tulpar journal verify) checks
//     the whole chain.
//
// The file checks read the two meta pages directly, after bbolt v1.5.0's
// layout (datafile.go), before bbolt opens the file; the journal checks read
// through bbolt. Neither writes: a refused file is left as it was. The error
// is one line naming the file, what is wrong and the way out: restore the
// file from a snapshot (/admin/journal/snapshot) or a backup, and check that
// copy with tulpar journal verify before starting on it. New runs the same
// journal checks but returns their *ChainError; OpenReadOnly runs none of
// them, since auditors open damaged copies to find out what is wrong.
//
// # The data file and its buckets
//
// The switch keeps one bbolt file, DataFile in its data directory, so that
// an order's change, the journal entries that explain it, the advices it
// queues and its merchant callback commit in one transaction and one fsync:
// no crash can separate them. Several packages keep buckets in it; only the
// journal opens it and runs its transactions. Writes to any bucket happen
// inside a TxFunc of AppendTx (the journal's transaction hooks: payments'
// commit, store-and-forward's EnqueueTx, callbacks' InTx, the daily
// reports' scheduler), or of Update, the same round without entries (the
// store-and-forward workers' steps), or, for what is set up once or rarely
// (buckets at start, RRN reservations, the cabinet's users), in bbolt
// transactions of the package that owns the bucket; no package writes
// another's bucket.
//
//	bucket            owner (writer)        holds
//	journal           switch/journal        seq → entry (the hash chain)
//	journal.order     switch/journal        order id, first seq → the order's later seqs (ByOrder)
//	journal.meta      switch/journal        file version; head (last seq, hash)
//	orders            switch/payments       order id → order JSON, compressed (switch/order: BucketOrders, StoreValue; auditors read it)
//	orders_by_number  switch/payments       merchant, number → order id
//	orders_by_time    switch/payments       merchant, created, id → the order's index row (switch/order: Row)
//	orders_by_status  switch/payments       merchant, status, created, id → nil
//	orders_by_field   switch/payments       merchant, RRN / card last four / approval code, created, id → nil
//	orders_pending    switch/payments       order id → nil while an exchange's outcome is unknown
//	orders_open       switch/payments       order id → expiry while awaiting payment
//	payments_meta     switch/payments       RRN reservations; the indexes' layout version; whether earlier stored cards are indexed
//	cards_by_id       switch/payments       merchant, card id → the order that stored the card (order.StoredCard)
//	cards_by_client   switch/payments       merchant, client id, card id → nil (a customer's stored cards)
//	cards_by_token    switch/payments       merchant, card token, card id → nil (a card number's stored cards)
//	api_idempotency   switch/payments       merchant, key → idempotency receipt
//	merchant_settings switch/payments       merchant → settings changed in the cabinet (journaled, channel "settings")
//	saf.pending       switch/saf            per queue: position → queued item
//	saf.dead          switch/saf            item id → dead letter
//	saf.meta          switch/saf            format version; item and position sequences
//	saf.corrupt       switch/saf            undecodable items, moved aside
//	callbacks.sent    switch/callbacks      callbacks already queued, so none is sent twice
//	report_mail_queued switch/reportmail    merchant, day → when its daily report was queued
//	receipts.meta     switch/receipt        the key of the receipt links' tokens
//	receipts.mailed   switch/receipt        order, operation → receipts queued for the buyer's e-mail
//	payment_links     switch/paylinks       link code → payment link or invoice (JSON)
//	payment_links.orders switch/paylinks    link code, order id → the orders paid through each link
//	users             switch/users          login → cabinet user (role, merchant, argon2id hash, lock, preferences)
//	users.sessions    switch/users          SHA-256 of a session token → cabinet session
//	users.audit       switch/users          sequence → audit event (sign-ins, failures, locks, users' actions)
//	fiscal.queued     switch/fiscal         fiscal receipts already queued, by external id, so none is queued twice
//
// Every package reaches the file through the journal's *DB (as a
// Transactor), never a *bolt.DB of its own: the writer closes and opens
// the file again now and then, when no transaction is open, to empty
// bbolt's map of the pages allocated since it was opened (see DB).
//
// # Reading and auditing
//
// Iterate, ByOrder, Get, Last and Count read while appends go on. Verify
// walks the chain and returns a *ChainError naming the first broken entry.
// bbolt locks the file (flock, exclusive for the writer). Open also holds
// the file beside it (the data file's name and ".lock", on Unix) from open
// to close, across the writer's reopens, and OpenReadOnly shares it when
// it is there (a copy has none). So auditors take a consistent copy with
// CopyTo or Snapshot and open that with OpenReadOnly.
package journal
