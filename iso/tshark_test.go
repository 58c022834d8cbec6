package iso

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	connection "github.com/moov-io/iso8583-connection"
	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/specs"
)

// TestTsharkDecodesEveryMessage is the check that a tool we did not write
// reads our wire: every sample message (each MTI Tulpar sends, and each a
// bank answers with) goes over a real TCP connection on 127.0.0.1, written
// as links writes it (the codec's frame on a moov connection); what the
// listening side read off the socket goes into a pcap file, and Wireshark's
// ISO 8583 dissector (tshark) decodes it. No field may be malformed and each
// data element must decode to the value sent.
//
// The pcap is written here (pcapStream) from the bytes the listener read,
// rather than captured with `tshark -i lo`: capturing needs root or dumpcap's
// capabilities, and a live capture must be known to be running before the
// first byte is sent, which only a sleep or parsing tshark's stderr would
// tell. The bytes are the same; only the TCP/IP headers around them are ours.
//
// The dissector's preferences (epan/dissectors/packet-iso8583.c) are three:
// iso8583.len_endian (the 2-byte length header's byte order, little endian
// by default: ours is big endian), iso8583.charset (digits as ASCII or as
// BCD nibbles) and iso8583.binencode (binary fields and bitmaps as hex
// characters or raw bytes). It knows no other length header than 2 binary
// bytes, so for the ascii dialect, whose header is 4 ASCII digits ("0196"
// would read as 12 345 bytes), the test checks the header itself and hands
// the dissector the body behind a 2-byte one; the body is untouched.
//
// One known disagreement, pinned rather than hidden: for an odd count of
// BCD digits in an LL field (the Amex sample's 15-digit PAN and 11-digit
// acquirer code, binary dialect) the dissector assumes the pad nibble comes
// first, while jPOS's ISO87BPackager, which bank hosts run and which we
// follow (see specs/jpos_test.go), puts it last. Wireshark therefore shows
// such a value shifted by one nibble; wiresharkOddBCD spells out exactly
// what it shows. And with raw binary fields the dissector overruns its own
// buffer: see wiresharkRawHex.
func TestTsharkDecodesEveryMessage(t *testing.T) {
	tshark := ensureTshark(t)
	prefs := map[string][]string{
		"ascii":  {"iso8583.len_endian:bigendian", "iso8583.charset:ascii", "iso8583.binencode:ascii"},
		"binary": {"iso8583.len_endian:bigendian", "iso8583.charset:bcd", "iso8583.binencode:bin"},
	}
	names := sortedKeys(samples())
	for _, dname := range []string{"ascii", "binary"} {
		t.Run(dname, func(t *testing.T) {
			c := codecs(t)[dname]
			wire, client, server := sendOverTCP(t, c, names)

			pcap := newPcapStream(client, server, sampleTime)
			r := bytes.NewReader(wire)
			for _, name := range names {
				n, err := c.ReadLength(r)
				require.NoError(t, err, "%s: length header", name)
				body := make([]byte, n)
				_, err = io.ReadFull(r, body)
				require.NoError(t, err, name)
				want, err := c.Pack(samples()[name])
				require.NoError(t, err)
				require.Equal(t, want, body, "%s: the bytes read are the bytes sent", name)
				pcap.Send(dissectorFrame(t, c, body))
			}
			require.Zero(t, r.Len(), "nothing after the last message")
			file := filepath.Join(t.TempDir(), dname+".pcap")
			require.NoError(t, os.WriteFile(file, pcap.Bytes(), 0o600))

			pdus := runTshark(t, tshark, file, server.Port(), prefs[dname])
			require.Len(t, pdus, len(names), "one ISO 8583 message decoded per message sent")
			for i, name := range names {
				t.Run(name, func(t *testing.T) {
					m := samples()[name]
					got := pdus[i]
					require.Empty(t, got.problems, "expert info or malformed packet")
					require.Equal(t, m.MTI, got.mti)
					want := wireValues(c, m)
					if dname == "binary" {
						for _, id := range []int{2, 32} {
							if v, ok := want[id]; ok && len(v)%2 == 1 {
								want[id] = wiresharkOddBCD(v)
							}
						}
						for _, id := range []int{64, 128} {
							if v, ok := want[id]; ok {
								got.bits[id] = wiresharkRawHex(t, v, got.bits[id])
							}
						}
					}
					require.Equal(t, want, got.bits, "every data element, as tshark decoded it")
				})
			}
		})
	}
}

// wiresharkOddBCD is what the dissector shows for an odd count of digits
// packed left-aligned (jPOS's IFB_LLNUM): it reads the nibbles from the
// second one on, so "378282246310005" (37 82 … 00 50) shows as
// "782822463100050".
func wiresharkOddBCD(v string) string { return v[1:] + "0" }

// wiresharkRawHex checks a binary field (the MAC) shown with binencode
// "bin" and returns the hex digits Wireshark decoded. Its bin2hex allocates
// one byte per byte of the field plus one, then writes two hex digits per
// byte, so the string runs past its buffer and what follows the 16 digits
// is whatever the heap holds (a Wireshark bug, there in 4.0 and in its
// current source): the digits must be right, the rest is not the field's.
func wiresharkRawHex(t *testing.T, want, got string) string {
	t.Helper()
	require.True(t, strings.HasPrefix(got, want), "MAC: want %s, tshark shows %q", want, got)
	return got[:len(want)]
}

// wireValues is every data element of m as it travels, written from the
// dialect's rules, not from the packer: fixed character fields padded,
// amounts in 12 digits, DE90 and DE95 spelled out, the private field's TLV
// subfields in tag order, the MAC as hexadecimal.
func wireValues(c *Codec, m *Message) map[int]string {
	out := map[int]string{}
	put := func(id int, v string) {
		if v != "" {
			out[id] = v
		}
	}
	put(2, m.PAN)
	put(3, m.ProcessingCode)
	if m.HasAmount {
		put(4, fmt.Sprintf("%012d", m.Amount))
	}
	put(7, m.TransmissionTime)
	put(11, m.STAN)
	put(12, m.LocalTime)
	put(13, m.LocalDate)
	put(14, m.Expiry)
	put(18, m.MCC)
	put(22, m.POSEntryMode)
	put(25, m.POSCondition)
	put(32, m.AcquirerID)
	put(37, m.RRN)
	put(38, m.ApprovalCode)
	put(39, m.ResponseCode)
	pad := func(v string, n int) string {
		if v == "" {
			return ""
		}
		return v + strings.Repeat(" ", n-len(v))
	}
	put(41, pad(m.TerminalID, 8))
	put(42, pad(m.MerchantID, 15))
	put(43, pad(m.MerchantName, 40))
	put(49, m.Currency)
	put(54, m.AdditionalAmounts)
	put(70, m.NetworkCode)
	if m.Original != nil {
		o := m.Original
		put(90, o.MTI+o.STAN+o.TransmissionTime+fmt.Sprintf("%011s%011s", o.AcquirerID, o.ForwarderID))
	}
	if m.ActualAmount != nil {
		a := fmt.Sprintf("%012d", *m.ActualAmount)
		put(95, a+a+strings.Repeat("0", 18))
	}
	private := map[string]string{specs.RoleCVV2: m.CVV2, specs.RoleKeyUnderZMK: m.KeyUnderZMK, specs.RoleKeyCheckValue: m.KeyCheckValue,
		specs.RoleStoredCredential: c.Dialect().CredentialOnFile.Indicator(m.StoredCredential)}
	if t := m.ThreeDS; t != nil {
		private[specs.RoleECI], private[specs.RoleCAVV] = t.ECI, t.CAVV
		private[specs.RoleTransactionID], private[specs.RoleVersion] = t.TransactionID, t.Version
	}
	var tlv []string
	for role, v := range private {
		if v != "" {
			tlv = append(tlv, fmt.Sprintf("%s%02d%s", c.Dialect().PrivateTags[role], len(v), v))
		}
	}
	sort.Strings(tlv) // tags are two digits: string order is numeric order
	put(c.Dialect().PrivateField, strings.Join(tlv, ""))
	if m.MAC != nil {
		put(c.macField(m), strings.ToUpper(hex.EncodeToString(m.MAC)))
	}
	return out
}

// dissectorFrame puts body behind the only length header the dissector
// reads: 2 bytes, big endian with our preference. For the binary dialect
// that is its own header; for the ascii dialect it replaces the 4 digits,
// which TestTsharkDecodesEveryMessage has already checked.
func dissectorFrame(t *testing.T, c *Codec, body []byte) []byte {
	t.Helper()
	switch h := c.Dialect().LengthHeader; h {
	case specs.HeaderBinary2, specs.HeaderASCII4:
		return append(binary.BigEndian.AppendUint16(nil, uint16(len(body))), body...)
	default:
		t.Fatalf("no 2-byte framing for the dissector from header %q", h)
		return nil
	}
}

// sendOverTCP writes every named sample, framed, over a TCP connection on
// 127.0.0.1 and returns what the listener read, and both ends' addresses.
func sendOverTCP(t *testing.T, c *Codec, names []string) (wire []byte, client, server netip.AddrPort) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	type read struct {
		b      []byte
		remote string
		err    error
	}
	got := make(chan read, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			got <- read{err: err}
			return
		}
		defer conn.Close()
		conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		b, err := io.ReadAll(conn)
		got <- read{b, conn.RemoteAddr().String(), err}
	}()

	mc, err := connection.New(ln.Addr().String(), c.Spec(), c.ReadLength, c.WriteLength)
	require.NoError(t, err)
	require.NoError(t, mc.Connect())
	for _, name := range names {
		body, err := c.Pack(samples()[name])
		require.NoError(t, err, name)
		frame, err := c.Frame(body)
		require.NoError(t, err)
		_, err = mc.Write(frame)
		require.NoError(t, err, name)
	}
	require.NoError(t, mc.Close())

	r := <-got
	require.NoError(t, r.err)
	client, err = netip.ParseAddrPort(r.remote)
	require.NoError(t, err)
	server, err = netip.ParseAddrPort(ln.Addr().String())
	require.NoError(t, err)
	return r.b, client, server
}

// decoded is one ISO 8583 message as tshark decoded it.
type decoded struct {
	mti  string
	bits map[int]string // data element → value, bitmaps left out
	// problems lists expert info and malformed-packet markers found
	// anywhere in the message's tree.
	problems []string
}

// runTshark decodes file with the ISO 8583 dissector on port and returns
// the messages in order.
func runTshark(t *testing.T, tshark, file string, port uint16, prefs []string) []decoded {
	t.Helper()
	args := []string{"-n", "-r", file, "-d", fmt.Sprintf("tcp.port==%d,iso8583", port), "-T", "json", "--no-duplicate-keys"}
	for _, p := range prefs {
		args = append(args, "-o", p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tshark, args...)
	// A home of its own: no profile or recent-files of the machine's user.
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "tshark %s\n%s", strings.Join(args, " "), stderr.String())

	var packets []struct {
		Source struct {
			Layers map[string]json.RawMessage `json:"layers"`
		} `json:"_source"`
	}
	require.NoError(t, json.Unmarshal(out, &packets), "tshark's JSON")
	var msgs []decoded
	for _, p := range packets {
		for name := range p.Source.Layers {
			if strings.HasPrefix(name, "_ws.") {
				t.Errorf("tshark marked a packet %s: %.300s", name, p.Source.Layers[name])
			}
		}
		raw, ok := p.Source.Layers["iso8583"]
		if !ok {
			continue
		}
		// Several messages in one segment would make this an array; the
		// test sends one per segment.
		var layer map[string]any
		require.NoError(t, json.Unmarshal(raw, &layer), "one ISO 8583 message per segment: %s", raw)
		msgs = append(msgs, parseLayer(t, layer))
	}
	return msgs
}

func parseLayer(t *testing.T, layer map[string]any) decoded {
	t.Helper()
	d := decoded{bits: map[int]string{}}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, sub := range v {
				if strings.HasPrefix(k, "_ws.") || strings.Contains(k, "MALFORMED") {
					d.problems = append(d.problems, fmt.Sprintf("%s%s: %v", path, k, sub))
					continue
				}
				walk(path+k+".", sub)
			}
		case []any:
			for _, sub := range v {
				walk(path, sub)
			}
		}
	}
	walk("", layer)
	for k, v := range layer {
		switch {
		case k == "iso8583.mti":
			d.mti, _ = v.(string)
		case strings.HasPrefix(k, "iso8583.bit") && !strings.HasSuffix(k, "_tree"):
			id, err := strconv.Atoi(strings.TrimPrefix(k, "iso8583.bit"))
			require.NoError(t, err, k)
			s, ok := v.(string)
			require.True(t, ok, "%s: one value, got %v", k, v)
			d.bits[id] = s
		}
	}
	return d
}

var (
	tsharkOnce sync.Once
	tsharkPath string
	tsharkErr  error
)

// ensureTshark returns tshark's path, installing Debian's package first
// when it is missing and the test runs as root (as CI does), the way the
// browser tests install Chromium. Otherwise the test fails and says how to
// install it.
func ensureTshark(t *testing.T) string {
	t.Helper()
	tsharkOnce.Do(func() { tsharkPath, tsharkErr = findOrInstallTshark() })
	if tsharkErr != nil {
		t.Fatalf("iso wire test: %v", tsharkErr)
	}
	return tsharkPath
}

func findOrInstallTshark() (string, error) {
	if p, err := exec.LookPath("tshark"); err == nil {
		return p, nil
	}
	if os.Geteuid() != 0 {
		return "", errors.New("no tshark on PATH and not root, so it cannot be installed here: " +
			"run `apt-get install -y tshark` as root (answer no to letting non-root users capture) and test again")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	run := func(stdin string, args ...string) error {
		// Printed as it happens: a test that installs software says so.
		fmt.Fprintf(os.Stderr, "iso wire test: tshark not found; running: %s\n", strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdin = strings.NewReader(stdin)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("installing tshark: %s: %w", strings.Join(args, " "), err)
		}
		return nil
	}
	// wireshark-common asks whether non-root users may capture: no, and
	// asked beforehand so that nothing waits for an answer.
	if err := run("wireshark-common wireshark-common/install-setuid boolean false\n", "debconf-set-selections"); err != nil {
		return "", err
	}
	// Another test may be installing its own package (Chromium): wait for
	// dpkg's lock rather than fail on it.
	for _, args := range [][]string{
		{"apt-get", "-o", "DPkg::Lock::Timeout=300", "update"},
		{"apt-get", "-o", "DPkg::Lock::Timeout=300", "install", "-y", "tshark"},
	} {
		if err := run("", args...); err != nil {
			return "", err
		}
	}
	p, err := exec.LookPath("tshark")
	if err != nil {
		return "", errors.New("apt-get installed tshark but no tshark is on PATH")
	}
	fmt.Fprintf(os.Stderr, "iso wire test: using %s\n", p)
	return p, nil
}
