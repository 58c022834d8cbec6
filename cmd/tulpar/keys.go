package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/tulpar-switch/tulpar/hsm"
)

// keysStdin is where import-zmk reads key components; tests replace it.
var keysStdin io.Reader = os.Stdin

var keysCommands = []subcommand{
	{"init-master", "create a new master key file (the only command that can show a clear key)", keysInitMaster},
	{"init", "create the switch's own keys (dek, token, cvk) that are missing", keysInit},
	{"create", "generate a new key in the key store or the token", keysCreate},
	{"rotate", "add a new version of a key; old versions still decrypt and verify", keysRotate},
	{"list", "print every key version: id, type, algorithm, version, KCV", keysList},
	{"kcv", "print the key check value of a key", keysKCV},
	{"import", "import a key a bank sent wrapped under a zone master key", keysImport},
	{"import-zmk", "enter a zone master key from clear components read on stdin", keysImportZMK},
}

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runGroup(ctx, "keys", `
Keys live in a key store file (--store), each version wrapped (AES-256-GCM)
under a 256-bit master key, or in a PKCS#11 token (--pkcs11-module and
--token, the user PIN in the environment variable --pin-env, default
TULPAR_PKCS11_PIN), where they are generated and used and never leave it.
The master key comes from a file (mode 0600, --master) or from an environment
variable (--master-env, default TULPAR_MASTER_KEY), never from the config
file. No command prints a clear key, except init-master --show, once, when the
key is made.
`, keysCommands, args, stdout, stderr)
}

// newKeysFlags makes the flag set of a keys command.
func newKeysFlags(name, usage, about string, stderr io.Writer) *flag.FlagSet {
	return newFlagSet("keys "+name, usage, about, stderr)
}

func fail(stderr io.Writer, cmd string, err error) int {
	fmt.Fprintf(stderr, "tulpar keys %s: %v\n", cmd, err)
	return exitFail
}

func printKey(w io.Writer, verb string, k hsm.KeyInfo) {
	fmt.Fprintf(w, "%s %s: type %s, algorithm %s, version %d, KCV %s\n", verb, k.ID, k.Type, k.Algorithm, k.Version, k.KCV)
}

func keysInitMaster(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newKeysFlags("init-master", "--out FILE [--show]", `
Generates a new 256-bit master key and writes it in hex to FILE, created with
mode 0600; an existing file is never overwritten. Prints the key check value,
which the key store records so that a wrong master key is named as such.

--show also prints the clear key, once, for an operator who keeps it in a safe
or passes it through an environment variable instead of a file. It is the
only time any tulpar command shows a clear key; with --show and no --out the
key is only shown, not written anywhere.`, stderr)
	out := fs.String("out", "", "write the master key to this new `file`")
	show := fs.Bool("show", false, "print the clear master key once (to stdout)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *out == "" && !*show {
		fmt.Fprintln(stderr, "tulpar keys init-master: --out FILE is required (or --show to only display the key)")
		return exitUsage
	}
	mk, err := hsm.GenerateMasterKey()
	if err != nil {
		return fail(stderr, "init-master", err)
	}
	if *out != "" {
		if err := hsm.WriteMasterKeyFile(*out, mk); err != nil {
			return fail(stderr, "init-master", err)
		}
		fmt.Fprintf(stdout, "master key written to %s (mode 0600), KCV %s\n", *out, mk.KCV())
	}
	if *show {
		fmt.Fprintln(stderr, "WARNING: the next line is the clear master key. This is the only time it is shown:")
		fmt.Fprintln(stderr, "record it under dual control now; it cannot be displayed again.")
		fmt.Fprintf(stdout, "%s=%s\n", hsm.DefaultMasterKeyEnv, mk.ExportHex())
		fmt.Fprintf(stdout, "KCV %s\n", mk.KCV())
	}
	return exitOK
}

func keysInit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newKeysFlags("init", "(--store FILE | --pkcs11-module LIB --token LABEL)", `
Creates the keys the switch itself needs under their default ids, those that
are missing: dek (PANs at rest), token (PAN tokens) and cvk (CVV2 hashes).
Run it once on a new key store or token; running it again changes nothing.
MAC keys and zone master keys come from the banks: see create, import and
import-zmk.`, stderr)
	var sf storeFlags
	sf.register(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	kb, err := sf.open(true, stderr)
	if err != nil {
		return fail(stderr, "init", err)
	}
	defer kb.Close()
	made, err := kb.InitKeys(ctx)
	for _, info := range made {
		printKey(stdout, "created", info)
	}
	if err != nil {
		return fail(stderr, "init", err)
	}
	if len(made) == 0 {
		fmt.Fprintln(stdout, "every key the switch needs is there")
	}
	return exitOK
}

func keysCreate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newKeysFlags("create", "(--store FILE | --pkcs11-module LIB --token LABEL) --type TYPE [--id ID] [--alg ALG]", algHelp(`
Generates a new random key (version 1): in a key store file, wrapped under the
master key (the file is created if it does not exist), or inside a PKCS#11
token. Prints the key check value to compare with the other side's.`), stderr)
	var sf storeFlags
	sf.register(fs)
	typ := fs.String("type", "", "key `type`: zmk, mac, dek, cvk, token (required)")
	id := fs.String("id", "", "key `id` (default: the type, e.g. dek; required for mac and zmk keys, e.g. mac-bank-a)")
	alg := fs.String("alg", "", "`algorithm` (default: the type's first, see above)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *typ == "" {
		fmt.Fprintln(stderr, "tulpar keys create: --type is required")
		return exitUsage
	}
	if *id == "" {
		if t := hsm.KeyType(*typ); t == hsm.KeyMAC || t == hsm.KeyZMK {
			fmt.Fprintf(stderr, "tulpar keys create: --id is required for %s keys (one per bank)\n", t)
			return exitUsage
		}
		*id = *typ
	}
	kb, err := sf.open(true, stderr)
	if err != nil {
		return fail(stderr, "create", err)
	}
	defer kb.Close()
	info, err := kb.Create(ctx, *id, hsm.KeyType(*typ), hsm.Algorithm(*alg))
	if err != nil {
		return fail(stderr, "create", err)
	}
	printKey(stdout, "created", info)
	return exitOK
}

func keysRotate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newKeysFlags("rotate", "(--store FILE | --pkcs11-module LIB --token LABEL) --id ID", `
Adds a new random version of a key. New data is protected with it from the
next start of the daemon; older versions stay in the store, so what they
protected still decrypts and verifies. For a bank's MAC key, rotate on the
side that generates it and send it with a key change (0800, DE70 161).`, stderr)
	var sf storeFlags
	sf.register(fs)
	id := fs.String("id", "", "key `id` (required)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *id == "" {
		fmt.Fprintln(stderr, "tulpar keys rotate: --id is required")
		return exitUsage
	}
	kb, err := sf.open(false, stderr)
	if err != nil {
		return fail(stderr, "rotate", err)
	}
	defer kb.Close()
	info, err := kb.Rotate(ctx, *id)
	if err != nil {
		return fail(stderr, "rotate", err)
	}
	printKey(stdout, "rotated", info)
	return exitOK
}

func keysList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newKeysFlags("list", "(--store FILE | --pkcs11-module LIB --token LABEL)", `
Prints every version of every key: id, type, algorithm, version, key check
value, when it was made and where it came from. The current version of each
key, the one that protects new data, is marked with *.`, stderr)
	var sf storeFlags
	sf.register(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	kb, err := sf.open(false, stderr)
	if err != nil {
		return fail(stderr, "list", err)
	}
	defer kb.Close()
	keys, err := kb.Keys(ctx)
	if err != nil {
		return fail(stderr, "list", err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTYPE\tALGORITHM\tVERSION\tKCV\tCREATED\tORIGIN")
	for _, k := range keys {
		cur := " "
		if k.Current {
			cur = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d%s\t%s\t%s\t%s\n", k.ID, k.Type, k.Algorithm, k.Version, cur, k.KCV, k.Created.Format("2006-01-02 15:04:05Z"), k.Origin)
	}
	tw.Flush()
	fmt.Fprintln(stdout, kb.Where())
	return exitOK
}

func keysKCV(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newKeysFlags("kcv", "(--store FILE | --pkcs11-module LIB --token LABEL) --id ID [--version N]", `
Prints the key check value of a key (its current version unless --version):
3 bytes in hex, TDES-encrypted zeros for TDES keys, AES-CMAC of zeros for AES
keys (ANSI X9.24-1); in a PKCS#11 token, computed by the token when the
version was made. Read it to the bank to confirm both sides hold the same
key; it reveals nothing usable about the key.`, stderr)
	var sf storeFlags
	sf.register(fs)
	id := fs.String("id", "", "key `id` (required)")
	version := fs.Uint("version", 0, "key `version` (default: current)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *id == "" {
		fmt.Fprintln(stderr, "tulpar keys kcv: --id is required")
		return exitUsage
	}
	kb, err := sf.open(false, stderr)
	if err != nil {
		return fail(stderr, "kcv", err)
	}
	defer kb.Close()
	var info hsm.KeyInfo
	if *version == 0 {
		info, err = kb.Key(ctx, *id)
	} else {
		info, err = kb.KeyVersion(ctx, *id, uint32(*version))
	}
	if err != nil {
		return fail(stderr, "kcv", err)
	}
	fmt.Fprintln(stdout, info.KCV)
	return exitOK
}

func keysImport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newKeysFlags("import", "(--store FILE | --pkcs11-module LIB --token LABEL) --zmk ZMK --id ID --alg ALG --wrapped HEX --kcv KCV", algHelp(`
Imports a key a bank sent wrapped under the zone master key you share with it
(by courier, or read from a key change message): TDES-ECB under a tdes ZMK,
RFC 3394 AES key wrap under an aes-256 ZMK. The key is stored only if its
check value matches the one the bank sent. Importing under an existing id adds
a new version. A PKCS#11 token unwraps it itself (see --allow-host-unwrap for
tokens that cannot).`), stderr)
	var sf storeFlags
	sf.register(fs)
	zmk := fs.String("zmk", "", "`id` of the zone master key it is wrapped under (required)")
	id := fs.String("id", "", "key `id` to store it under (required)")
	typ := fs.String("type", string(hsm.KeyMAC), "key `type`")
	alg := fs.String("alg", "", "`algorithm` (required for a new key)")
	wrapped := fs.String("wrapped", "", "the wrapped key in `hex` (required)")
	kcv := fs.String("kcv", "", "the check value the bank sent, `hex` (required)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *zmk == "" || *id == "" || *wrapped == "" || *kcv == "" {
		fmt.Fprintln(stderr, "tulpar keys import: --zmk, --id, --wrapped and --kcv are required")
		return exitUsage
	}
	w, err := hex.DecodeString(strings.TrimSpace(*wrapped))
	if err != nil {
		fmt.Fprintln(stderr, "tulpar keys import: --wrapped is not hex")
		return exitUsage
	}
	kb, err := sf.open(false, stderr)
	if err != nil {
		return fail(stderr, "import", err)
	}
	defer kb.Close()
	info, err := kb.ImportKey(ctx, hsm.ImportRequest{
		ZMK: *zmk, KeyID: *id, Type: hsm.KeyType(*typ), Algorithm: hsm.Algorithm(*alg), Wrapped: w, KCV: *kcv,
	})
	if err != nil {
		return fail(stderr, "import", err)
	}
	printKey(stdout, "imported", info)
	return exitOK
}

func keysImportZMK(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newKeysFlags("import-zmk", "(--store FILE | --pkcs11-module LIB --token LABEL) --id ID --kcv KCV [--alg tdes|aes-256] [--components N]", `
Enters a zone master key from clear components, one per line in hex on stdin,
typed by each custodian in turn (dual control: at least 2). The components are
XORed; the check value of each component is printed for its custodian to
compare, and the ZMK is stored only if its check value matches --kcv, the one
agreed with the bank. The components are never echoed. Into a PKCS#11 token,
the combined key is created in the token and its check value computed there.`, stderr)
	var sf storeFlags
	sf.register(fs)
	id := fs.String("id", "", "ZMK `id` (required, e.g. zmk-bank-a)")
	alg := fs.String("alg", string(hsm.AlgTDES), "`algorithm`: tdes or aes-256")
	kcv := fs.String("kcv", "", "check value of the combined key, agreed with the bank (required)")
	n := fs.Int("components", 2, "`number` of components to read")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *id == "" || *kcv == "" {
		fmt.Fprintln(stderr, "tulpar keys import-zmk: --id and --kcv are required")
		return exitUsage
	}
	if *n < hsm.MinComponents {
		fmt.Fprintf(stderr, "tulpar keys import-zmk: --components must be at least %d (dual control)\n", hsm.MinComponents)
		return exitUsage
	}
	kb, err := sf.open(true, stderr)
	if err != nil {
		return fail(stderr, "import-zmk", err)
	}
	defer kb.Close()
	components, err := readComponents(keysStdin, *n, hsm.Algorithm(*alg), stderr)
	defer func() {
		for _, c := range components {
			clear(c)
		}
	}()
	if err != nil {
		return fail(stderr, "import-zmk", err)
	}
	info, err := kb.ImportComponents(ctx, *id, hsm.KeyZMK, hsm.Algorithm(*alg), components, *kcv)
	if err != nil {
		return fail(stderr, "import-zmk", err)
	}
	printKey(stdout, "imported", info)
	return exitOK
}

// readComponents reads n components in hex, one a line, prompting each
// custodian on stderr and printing their component's check value to
// compare; it never echoes a component.
func readComponents(in io.Reader, n int, alg hsm.Algorithm, stderr io.Writer) ([][]byte, error) {
	var components [][]byte
	sc := bufio.NewScanner(in)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(stderr, "component %d of %d (hex): ", i, n)
		if !sc.Scan() {
			return components, fmt.Errorf("component %d: end of input", i)
		}
		c, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(sc.Text()), " ", ""))
		if err != nil {
			return components, fmt.Errorf("component %d is not hex", i)
		}
		components = append(components, c)
		kcv, err := hsm.ComponentKCV(alg, c)
		if err != nil {
			return components, fmt.Errorf("component %d: %w", i, err)
		}
		fmt.Fprintf(stderr, "component %d KCV %s\n", i, kcv)
	}
	return components, nil
}

func algHelp(about string) string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(about))
	b.WriteString("\n\nKey types and their algorithms (first is the default):\n")
	for _, t := range hsm.KeyTypes() {
		fmt.Fprintf(&b, "  %-6s", t)
		for i, a := range hsm.Algorithms(t) {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(" " + string(a))
		}
		b.WriteString("\n")
	}
	b.WriteString(`
  iso9797-3       ISO 9797-1 MAC algorithm 3, padding 1 (ANSI X9.19 retail MAC), double-length TDES
  iso9797-3-pad2  the same with padding method 2
  aes-cmac-128    AES-CMAC (NIST SP 800-38B), 64-bit MAC; aes-cmac-256 with a 256-bit key`)
	return b.String()
}
