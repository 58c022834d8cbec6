// Package users keeps the merchant cabinet's people: accounts and their
// roles, passwords, the lock after wrong passwords, sessions, what each
// user keeps for themselves (columns, saved filters, language, e-mail),
// and the audit log of every sign-in, failure, lock and action.
//
// It owns these buckets of the switch's data file (switch/journal's doc
// lists every bucket of the file):
//
//	users           login → the user (JSON: User, with the password's argon2id hash)
//	users.sessions  SHA-256 of the session token → the session (JSON)
//	users.audit     sequence, 8 bytes big-endian → an audit event (JSON: Event)
//
// and writes them in bbolt transactions of its own, as store-and-forward
// does its bookkeeping: nothing here changes an order, so nothing needs
// the journal's transaction. What a user does to an order goes through
// the payments engine, which journals it with the change (the cabinet
// names the user in the request it journals), and is also an Event here,
// so the operator reads one log of who did what.
//
// # Passwords
//
// argon2id with OWASP's minimum cost (19 MiB, two passes), as the merchant
// API's passwords. Hashes run in the slots of a switch/authguard Guard
// (Config.Guard), the one mechanism that bounds password checks across the
// switch: a burst of sign-ins waits briefly, then is told the switch is
// busy, rather than takes memory. A sign-in for an unknown login pays the
// same hash, so timing does not tell which logins exist. A password is
// at least MinPassword characters and not the login. A temporary password
// (a new user's, or one the operator reset) must be changed at the next
// sign-in.
//
// # The lock
//
// Config.MaxFailures wrong passwords in a row (3, the bank manual's rule)
// lock the account for Config.LockFor (30 minutes): until then every
// sign-in is refused with ErrLocked, which says until when, without looking
// at the password. The operator can unlock it (Unlock) or reset the
// password (ResetPassword, which also unlocks).
//
// Anyone who knows a login can fail on purpose, and could keep its user
// out for good, a lock every half hour. So the lock depends on where the
// wrong passwords come from (Authenticate): from a network the user
// signed in from within Config.KnownFor, they lock the account everywhere
// and end its sessions, as the manual has it; from other networks they
// lock it for other networks only, and the user's own keep working. The
// network is switch/clientip's (an IPv4 address, an IPv6 /64), so behind
// an untrusted proxy every sign-in comes from the proxy and makes it
// known: list the proxy in http.trusted_proxies.
//
// The lock is kept here, in the data file, and not in switch/authguard,
// which counts failures in memory only: the manual's lock must hold across
// a restart (else crashing or restarting the switch would hand a guesser
// three more tries), be shown to the operator in the users list and by
// `tulpar users list` on a stopped switch's file, be lifted by either, and
// be written in the same transaction as its audit event. The cabinet still
// uses authguard for what it owns: the failures one client address may
// cause across logins, and the hashing slots.
//
// # Sessions
//
// A session is a random 256-bit token the browser keeps in a cookie; the
// store keeps only its SHA-256, so a copy of the data file opens no
// session. A session ends after Config.SessionIdle without a request, after
// Config.SessionMax in all, at sign-out, and when its user's password
// changes, is reset, is locked or the user is disabled. Each session has
// its own CSRF token for the cabinet's forms. Its last-seen time is written
// at most once a minute, so browsing does not write to the disk on every
// page.
//
// It must never keep a password or a session token in clear, nor log them.
package users
