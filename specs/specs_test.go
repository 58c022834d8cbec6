package specs

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/moov-io/iso8583/encoding"
	"github.com/moov-io/iso8583/field"
	"github.com/moov-io/iso8583/prefix"
	"github.com/stretchr/testify/require"
)

func TestEmbeddedDialects(t *testing.T) {
	require.Equal(t, []string{"ascii", "binary"}, Names())
	for _, name := range Names() {
		d, err := Load(name)
		require.NoError(t, err)
		require.Equal(t, name, d.Name)
		require.NotNil(t, d.Spec)
	}
	a, b := MustLoad("ascii"), MustLoad("binary")
	require.Equal(t, HeaderASCII4, a.LengthHeader)
	require.Equal(t, HeaderBinary2, b.LengthHeader)
	require.Equal(t, 48, a.PrivateField)
	require.Equal(t, 126, b.PrivateField)
	_, err := Load("nope")
	require.ErrorIs(t, err, ErrUnknownDialect)
	require.ErrorContains(t, err, "ascii, binary")
}

func TestThirdDialectIsData(t *testing.T) {
	data, err := os.ReadFile("testdata/third-bank.json")
	require.NoError(t, err)
	d, err := Parse(data)
	require.NoError(t, err)
	require.Equal(t, HeaderBCD2, d.LengthHeader)
	require.Equal(t, 62, d.PrivateField)
	require.Equal(t, "20", d.PrivateTags[RoleCVV2])
	// The stored-credential marker is data too: its tag and its values.
	require.Equal(t, "40", d.PrivateTags[RoleStoredCredential])
	require.Equal(t, "102", d.CredentialOnFile.POSEntryMode)
	require.Equal(t, "03", d.CredentialOnFile.Indicator(StoredMerchant))
	require.Equal(t, StoredInitial, d.CredentialOnFile.Use("01"))
	require.Empty(t, d.CredentialOnFile.Use("M"), "another dialect's value means nothing here")
}

// Every reversal names its reason in DE39: ISO 8583:1987's codes unless the
// bank's dialect file says otherwise.
func TestReversalReasons(t *testing.T) {
	d := MustLoad("ascii")
	require.Equal(t, "17", d.ReversalReason(ReasonCancel))
	require.Equal(t, "32", d.ReversalReason(ReasonPartial))
	require.Equal(t, "22", d.ReversalReason(ReasonDoubt))
	require.Equal(t, "68", d.ReversalReason(ReasonLate))
	data, err := os.ReadFile("binary.json")
	require.NoError(t, err)
	other, err := Parse([]byte(strings.Replace(string(data), `"lengthHeader": "binary2"`, `"lengthHeader": "binary2", "reversalReasons": {"late": "91"}`, 1)))
	require.NoError(t, err)
	require.Equal(t, "91", other.ReversalReason(ReasonLate), "the dialect's own code")
	require.Equal(t, "17", other.ReversalReason(ReasonCancel), "the rest stay ISO's")
}

func TestParseErrorsNameTheKey(t *testing.T) {
	good, err := os.ReadFile("binary.json")
	require.NoError(t, err)
	edit := func(old, new string) []byte {
		require.Contains(t, string(good), old)
		return []byte(strings.Replace(string(good), old, new, 1))
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"not json", []byte("{"), "not a dialect file"},
		{"no name", edit(`"name": "binary"`, `"name": ""`), "name: required"},
		{"bad header", edit(`"lengthHeader": "binary2"`, `"lengthHeader": "ebcdic9"`), "tulpar.lengthHeader"},
		{"private field missing", edit(`"privateField": 126`, `"privateField": 127`), "tulpar.privateField: field 127"},
		{"private field not composite", edit(`"privateField": 126`, `"privateField": 37`), "not a composite"},
		{"role tag missing", edit(`"cvv2": "05"`, `"cvv2": "99"`), "tulpar.privateTags.cvv2"},
		{"unknown role", edit(`"cvv2": "05"`, `"cvv2": "05", "pin": "05"`), "tulpar.privateTags.pin: unknown role"},
		{"unknown prefix", edit(`"prefix": "BCD.LL"`, `"prefix": "BCD.QQ"`), "unknown prefix"},
		{"mandatory field missing", edit(`"37": {`, `"38x": {`), "fields"},
		{"unknown reversal reason", edit(`"lengthHeader": "binary2"`, `"lengthHeader": "binary2", "reversalReasons": {"oops": "17"}`), "tulpar.reversalReasons.oops: unknown reason"},
		{"no credential-on-file entry mode", edit(`"posEntryMode": "102"`, `"posEntryMode": ""`), "tulpar.credentialOnFile.posEntryMode"},
		{"entry mode not DE22", edit(`"posEntryMode": "102"`, `"posEntryMode": "10"`), "not DE22's 3 digits"},
		{"indicator missing", edit(`"merchant": "M"`, `"merchant": ""`), "tulpar.credentialOnFile.indicators.merchant: required"},
		{"indicator too long", edit(`"merchant": "M"`, `"merchant": "MIT"`), "longer than the 2 characters"},
		{"indicator twice", edit(`"merchant": "M"`, `"merchant": "C"`), `"C" is cardholder's value too`},
		{"unknown use", edit(`"merchant": "M"`, `"merchant": "M", "recurring": "R"`), "indicators.recurring: unknown use"},
		{"stored credential tag missing", edit(`"storedCredential": "08"`, `"storedCredential": "09"`), "tulpar.privateTags.storedCredential"},
		{"reversal reason not DE39", edit(`"lengthHeader": "binary2"`, `"lengthHeader": "binary2", "reversalReasons": {"late": "068"}`), "tulpar.reversalReasons.late"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.data)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestPackedBCDMatchesMoov(t *testing.T) {
	for _, s := range []string{"", "0", "7", "12", "812", "0100", "4111111111111111", "411111111111111", "000000000000000000000000000000000000000001"} {
		want, err := encoding.BCD.Encode([]byte(s))
		require.NoError(t, err)
		got, err := packedBCD{}.Encode([]byte(s))
		require.NoError(t, err)
		require.Equal(t, want, got, s)
		wd, wn, err := encoding.BCD.Decode(want, len(s))
		require.NoError(t, err)
		gd, gn, err := packedBCD{}.Decode(got, len(s))
		require.NoError(t, err)
		require.Equal(t, wn, gn, s)
		require.True(t, bytes.Equal(wd, gd), "%s: %s vs %s", s, wd, gd)
	}
	_, err := packedBCD{}.Encode([]byte("12a4"))
	require.Error(t, err)
	_, _, err = packedBCD{}.Decode([]byte{0x1A}, 2)
	require.Error(t, err)
	_, _, err = packedBCD{}.Decode([]byte{0x12}, 4)
	require.ErrorContains(t, err, "not enough data")
	_, _, err = packedBCD{}.Decode([]byte{0x12}, -1)
	require.Error(t, err)
}

// TestNoSlowBCDLeft: Parse swaps moov's BCD and LBCD encoders for ours in
// every embedded dialect's fields and subfields.
func TestNoSlowBCDLeft(t *testing.T) {
	var check func(where string, s *field.Spec)
	check = func(where string, s *field.Spec) {
		require.False(t, s.Enc == encoding.BCD || s.Enc == encoding.LBCD, "%s: moov's BCD encoder left", where)
		for tag, sub := range s.Subfields {
			check(where+"."+tag, sub.Spec())
		}
	}
	for _, name := range Names() {
		for id, f := range MustLoad(name).Spec.Fields {
			check(fmt.Sprintf("%s DE%d", name, id), f.Spec())
		}
	}
}

func TestLeftBCDMatchesMoov(t *testing.T) {
	for _, s := range []string{"", "0", "7", "12", "812", "0100", "4111111111111111", "378282246310005", "40012345678"} {
		want, err := encoding.LBCD.Encode([]byte(s))
		require.NoError(t, err)
		got, err := leftBCD{}.Encode([]byte(s))
		require.NoError(t, err)
		require.Equal(t, want, got, s)
		wd, wn, err := encoding.LBCD.Decode(want, len(s))
		require.NoError(t, err)
		gd, gn, err := leftBCD{}.Decode(got, len(s))
		require.NoError(t, err)
		require.Equal(t, wn, gn, s)
		require.True(t, bytes.Equal(wd, gd), "%s: %s vs %s", s, wd, gd)
	}
	got, err := leftBCD{}.Encode([]byte("123"))
	require.NoError(t, err)
	require.Equal(t, []byte{0x12, 0x30}, got, "an odd count of digits is padded on the right")
	_, err = leftBCD{}.Encode([]byte("12a4"))
	require.Error(t, err)
	_, _, err = leftBCD{}.Decode([]byte{0x1A}, 1)
	require.Error(t, err, "the pad nibble is checked, as moov does")
	d, n, err := leftBCD{}.Decode([]byte{0x12, 0x3F}, 3)
	require.NoError(t, err, "F is a pad nibble too")
	require.Equal(t, "123", string(d))
	require.Equal(t, 2, n)
	_, _, err = leftBCD{}.Decode([]byte{0x12}, 3)
	require.ErrorContains(t, err, "not enough data")
	_, _, err = leftBCD{}.Decode([]byte{0x12}, -1)
	require.Error(t, err)
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"ascii.json", "binary.json", "testdata/third-bank.json"} {
		data, err := os.ReadFile(name)
		require.NoError(f, err)
		f.Add(data)
	}
	f.Add([]byte(`{"name":"x","tulpar":{"lengthHeader":"ascii4"},"fields":{"0":{"type":"Composite","padding":{"type":"Left","pad":"0"},"prefix":"ASCII.Fixed"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse(data)
		if err == nil {
			require.NotNil(t, d.Spec)
			require.NotEmpty(t, d.Name)
		}
	})
}

func FuzzPackedBCD(f *testing.F) {
	f.Add([]byte{0x12, 0x34}, 3)
	f.Fuzz(func(t *testing.T, data []byte, n int) {
		if n < 0 || n > 64 {
			return
		}
		want, wn, werr := encoding.BCD.Decode(data, n)
		got, gn, gerr := packedBCD{}.Decode(data, n)
		agreeWithMoov(t, want, wn, werr, got, gn, gerr)
	})
}

func FuzzLeftBCD(f *testing.F) {
	f.Add([]byte{0x12, 0x30}, 3)
	f.Fuzz(func(t *testing.T, data []byte, n int) {
		if n < 0 || n > 64 {
			return
		}
		want, wn, werr := encoding.LBCD.Decode(data, n)
		got, gn, gerr := leftBCD{}.Decode(data, n)
		agreeWithMoov(t, want, wn, werr, got, gn, gerr)
	})
}

// agreeWithMoov holds a fast decoder to moov's results, with one deliberate
// difference: moov's BCD decoder takes a 0xF nibble (the usual filler) for a
// NUL character, so "0\x1f" decodes to "0\x00" there; ours refuses any
// nibble that is not a decimal digit, since a NUL is no digit either.
func agreeWithMoov(t *testing.T, want []byte, wn int, werr error, got []byte, gn int, gerr error) {
	t.Helper()
	digits := werr == nil && !bytes.ContainsFunc(want, func(r rune) bool { return r < '0' || r > '9' })
	if !digits {
		require.Error(t, gerr, "moov decoded %q, not digits", want)
		return
	}
	require.NoError(t, gerr)
	require.Equal(t, string(want), string(got))
	require.Equal(t, wn, gn)
}

func TestBCDLengthMatchesMoov(t *testing.T) {
	for _, digits := range []int{1, 2, 3, 4} {
		ours := bcdLength{digits}
		moov := []prefix.Prefixer{nil, prefix.BCD.L, prefix.BCD.LL, prefix.BCD.LLL, prefix.BCD.LLLL}[digits]
		require.Equal(t, moov.Inspect(), ours.Inspect())
		for _, n := range []int{0, 1, 9, 10, 99, 100, 999, 1000, 9999} {
			want, werr := moov.EncodeLength(9999, n)
			got, gerr := ours.EncodeLength(9999, n)
			require.Equal(t, werr == nil, gerr == nil, "digits %d n %d", digits, n)
			require.Equal(t, want, got)
			if werr != nil {
				continue
			}
			wl, wr, werr := moov.DecodeLength(9999, want)
			gl, gr, gerr := ours.DecodeLength(9999, got)
			require.NoError(t, werr)
			require.NoError(t, gerr)
			require.Equal(t, wl, gl)
			require.Equal(t, wr, gr)
		}
		_, err := ours.EncodeLength(5, 6)
		require.Error(t, err)
		_, _, err = ours.DecodeLength(5, []byte{0x09, 0x99})
		require.Error(t, err)
		_, _, err = ours.DecodeLength(5, nil)
		require.Error(t, err)
	}
}
