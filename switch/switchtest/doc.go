// Package switchtest is the test support of the switch, as bbolt's
// btesting and nats-server's RunDefaultServer are theirs. Only tests import
// it. It offers:
//
//   - Run: a real switch on loopback, the daemon as `tulpar serve` starts
//     it, with a simulated bank (issuersim) over a real ISO 8583 link, a
//     real bbolt data file and, with Options.ThreeDS, the simulated 3-D
//     Secure directory server and ACS (issuersim/acs). Options shape it: the
//     bank's card book, the log, and Configure for any config key. The
//     Switch drives it as a shop's plugin does (RBS, Register, Pay), moves
//     the payment flows' clock (Advance), sets the bank's behaviour (Knobs),
//     and checks the books and the day's reconciliation with the bank.
//   - StartChild: the same switch (Config) in a child process that a test
//     can kill with SIGKILL, then Run again on its data; Restart stops and
//     starts an in-process switch. That is how crash tests see what recovery
//     does.
//   - NewService: the payment core alone over a real journal, its
//     collaborators replaced by the fakes below, for unit tests of the flows
//     that need no bank.
//   - Function-field fakes of payments' consumer interfaces, in the manner
//     of litestream's mock package: Banks, Router, Vault, Queue (also
//     callbacks' Enqueuer) and Authenticator. Each method calls its
//     ...Func field; a nil field has a documented default, so a test sets
//     only what it is about.
//   - The checks every test of the switch owes at cleanup (bbolt's
//     btesting checks each test database the same way): MustVerify (bbolt's
//     consistency check passes, the journal's hash chain verifies, and the
//     journal alone rebuilds the order store). Run and NewService register
//     it; a test that opens a data file itself calls it or MustCheckDB.
//   - NewTLS: a CA made for one test and a server certificate for loopback,
//     with a client that trusts that CA only and the certificate's key hash
//     for Chromium (--ignore-certificate-errors-spki-list), so that HTTPS
//     listeners are tested over HTTPS.
//   - LogBuffer, a log sink any number of goroutines may write to, and
//     Counter, a Prometheus counter's value by name and labels.
//
// switchtest imports the daemon, which imports every package of the
// switch: a package's own tests can use it only from an external test
// package (package api_test, not package api).
package switchtest
