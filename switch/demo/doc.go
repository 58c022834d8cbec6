// Package demo owns the demo world: the switch with two simulated partner
// banks, a simulated 3-D Secure directory server and ACS, and a demo
// merchant, all on loopback in one process. `tulpar demo` runs it for people
// ([Run], [Start]); `tulpar bench --self` runs it sized for load and measures
// it ([SelfBench]).
//
// It is the one place where the switch and the simulators meet outside the
// tests: the daemon is wiring for production and never links the simulators
// (switch/daemon/deps_test.go holds both rules).
//
// # Names
//
// The demo's bank links, merchant and test cards are fixed ([BankASCII],
// [BankBinary], [Merchant]); tests and the printed curl commands rely on
// them. [SwitchConfig] is the config the demo runs, and `tulpar demo
// --print-config` prints it as a starting point for `tulpar serve`.
//
// # What it must never do
//
//   - be imported by anything but cmd/ and tests: it starts simulated banks
//     that approve whatever they are sent;
//   - hold logic of the switch: it configures and starts the daemon, nothing
//     more.
package demo
