// Package specs holds the ISO 8583 dialects Tulpar speaks with partner banks.
//
// A dialect is one JSON file: a moov-io/iso8583 message spec ("fields") plus
// a "tulpar" section that says what moov's spec cannot: the network length
// header and where the private data (3-D Secure result, CVV2, key exchange)
// lives and under which subfield tags. Adding a bank's dialect is adding a
// file here (embedded) or pointing the config at one on disk; no Go code.
//
// This package knows nothing about sockets, HTTP or storage.
package specs

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/moov-io/iso8583"
	moovspecs "github.com/moov-io/iso8583/specs"
)

//go:embed *.json
var files embed.FS

// Length header kinds a dialect may declare.
const (
	HeaderASCII4  = "ascii4"  // four ASCII digits, e.g. "0123"
	HeaderBinary2 = "binary2" // two bytes, big-endian
	HeaderBCD2    = "bcd2"    // two bytes of packed BCD, e.g. 0x01 0x23
)

// Roles of the private-data subfields. A dialect maps each role to its tag.
const (
	RoleECI           = "eci"
	RoleCAVV          = "cavv"
	RoleTransactionID = "transactionId"
	RoleVersion       = "version"
	RoleCVV2          = "cvv2"
	RoleKeyUnderZMK   = "keyUnderZMK"
	RoleKeyCheckValue = "keyCheckValue"
	// RoleStoredCredential carries how a payment uses a stored card
	// (credential on file): one of the dialect's CredentialOnFile
	// indicators.
	RoleStoredCredential = "storedCredential"
)

var roles = []string{RoleECI, RoleCAVV, RoleTransactionID, RoleVersion, RoleCVV2, RoleKeyUnderZMK, RoleKeyCheckValue, RoleStoredCredential}

// How a payment uses a stored card (the card schemes' stored credential
// framework): the keys of a dialect's tulpar.credentialOnFile.indicators.
const (
	// StoredInitial marks the payment whose card is being stored: the
	// cardholder typed it and agreed to keep it (an RBS binding's first
	// payment, a Processing.kz card registration's verification hold).
	StoredInitial = "initial"
	// StoredCardholder marks a payment with a stored card that the
	// cardholder starts (the hosted page with the stored card, a merchant's
	// call with the CVV2 the buyer just gave).
	StoredCardholder = "cardholder"
	// StoredMerchant marks a payment with a stored card that the merchant
	// starts without the cardholder (no CVV2: it cannot be stored).
	StoredMerchant = "merchant"
)

var storedUses = []string{StoredInitial, StoredCardholder, StoredMerchant}

// CredentialOnFile is how a dialect marks payments with stored cards: a
// later use of a stored card goes with POSEntryMode in DE22 (ISO 8583's
// "10", credential on file, where an e-commerce entry is "81"), and every
// payment that stores or uses one carries its indicator in the private
// field under RoleStoredCredential's tag.
type CredentialOnFile struct {
	POSEntryMode string
	// Indicators maps StoredInitial, StoredCardholder and StoredMerchant to
	// the value the bank reads.
	Indicators map[string]string
}

// Indicator is the dialect's value for a Stored* use, "" for none.
func (c CredentialOnFile) Indicator(use string) string { return c.Indicators[use] }

// Use is the Stored* use a dialect value stands for, "" when none does.
func (c CredentialOnFile) Use(indicator string) string {
	for use, v := range c.Indicators {
		if v == indicator {
			return use
		}
	}
	return ""
}

// Dialect is a parsed dialect file, ready to build messages.
type Dialect struct {
	Name         string
	Description  string
	LengthHeader string // one of the Header* constants
	// PrivateField is the composite field number carrying private data.
	PrivateField int
	// PrivateTags maps a Role* to the subfield tag in PrivateField.
	PrivateTags map[string]string
	// ReversalReasons maps why a reversal is sent (a Reason*) to the DE39
	// value this bank expects in its 0400/0420; reasons the file does not
	// name take ISO 8583:1987's (DefaultReversalReasons).
	ReversalReasons map[string]string
	// CredentialOnFile is how payments with stored cards are marked.
	CredentialOnFile CredentialOnFile
	Spec             *iso8583.MessageSpec
}

// Why a reversal is sent: the keys of a dialect's tulpar.reversalReasons.
const (
	ReasonCancel  = "cancel"  // the merchant cancels a hold
	ReasonPartial = "partial" // the merchant releases part of a hold
	ReasonDoubt   = "doubt"   // the switch will not stand by an approval
	ReasonLate    = "late"    // no answer in time, or the process died waiting
)

// DefaultReversalReasons are ISO 8583:1987's DE39 values for each reason:
// 17 customer cancellation, 32 completed partially, 22 suspected
// malfunction, 68 response received too late.
var DefaultReversalReasons = map[string]string{ReasonCancel: "17", ReasonPartial: "32", ReasonDoubt: "22", ReasonLate: "68"}

// ReversalReason is the DE39 of a reversal sent for reason.
func (d *Dialect) ReversalReason(reason string) string {
	if v, ok := d.ReversalReasons[reason]; ok {
		return v
	}
	return DefaultReversalReasons[reason]
}

type fileMeta struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Tulpar      struct {
		LengthHeader string            `json:"lengthHeader"`
		PrivateField int               `json:"privateField"`
		PrivateTags  map[string]string `json:"privateTags"`
		// ReversalReasons overrides DefaultReversalReasons per reason.
		ReversalReasons map[string]string `json:"reversalReasons"`
		// CredentialOnFile is required: a bank that cannot tell a stored
		// card's payment from a typed one cannot apply the schemes' rules.
		CredentialOnFile struct {
			POSEntryMode string            `json:"posEntryMode"`
			Indicators   map[string]string `json:"indicators"`
		} `json:"credentialOnFile"`
	} `json:"tulpar"`
}

// mandatory lists the data elements every dialect must define, because the
// typed messages in package iso use them.
var mandatory = []int{0, 1, 2, 3, 4, 7, 11, 12, 13, 14, 18, 22, 25, 32, 37, 38, 39, 41, 42, 43, 49, 54, 64, 70, 90, 95, 128}

// Names lists the embedded dialects, sorted.
func Names() []string {
	entries, _ := fs.ReadDir(files, ".")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".json"))
	}
	sort.Strings(names)
	return names
}

// ErrUnknownDialect is returned by Load for a name that is not embedded.
var ErrUnknownDialect = errors.New("unknown dialect")

// Load returns the embedded dialect with the given name.
func Load(name string) (*Dialect, error) {
	data, err := files.ReadFile(path.Clean(name) + ".json")
	if err != nil {
		return nil, fmt.Errorf("specs: %q: %w (have %s)", name, ErrUnknownDialect, strings.Join(Names(), ", "))
	}
	return Parse(data)
}

// MustLoad is Load for names known at compile time (tests, the demo).
func MustLoad(name string) *Dialect {
	d, err := Load(name)
	if err != nil {
		panic(err)
	}
	return d
}

// Parse reads a dialect file. Errors name the key that is wrong.
func Parse(data []byte) (d *Dialect, err error) {
	// moov's builder panics on some invalid specs (e.g. a composite with
	// padding); a dialect file is outside input, so turn that into an error.
	defer func() {
		if r := recover(); r != nil {
			d, err = nil, fmt.Errorf("specs: invalid fields: %v", r)
		}
	}()
	var meta fileMeta
	if err := json.Unmarshal(data, &meta); err != nil {
		return nil, fmt.Errorf("specs: not a dialect file: %w", err)
	}
	if meta.Name == "" {
		return nil, errors.New("specs: name: required")
	}
	where := fmt.Sprintf("specs: dialect %q", meta.Name)
	switch meta.Tulpar.LengthHeader {
	case HeaderASCII4, HeaderBinary2, HeaderBCD2:
	default:
		return nil, fmt.Errorf("%s: tulpar.lengthHeader: %q is not one of %s, %s, %s", where,
			meta.Tulpar.LengthHeader, HeaderASCII4, HeaderBinary2, HeaderBCD2)
	}
	spec, err := moovspecs.ImportJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: fields: %w", where, err)
	}
	spec.Name = meta.Name
	useFastBCD(spec.Fields)
	for _, id := range mandatory {
		if _, ok := spec.Fields[id]; !ok {
			return nil, fmt.Errorf("%s: fields.%d: required by Tulpar's messages but not defined", where, id)
		}
	}
	pf, ok := spec.Fields[meta.Tulpar.PrivateField]
	if !ok {
		return nil, fmt.Errorf("%s: tulpar.privateField: field %d is not defined in fields", where, meta.Tulpar.PrivateField)
	}
	subs := pf.Spec().Subfields
	if len(subs) == 0 {
		return nil, fmt.Errorf("%s: tulpar.privateField: field %d is not a composite field", where, meta.Tulpar.PrivateField)
	}
	for _, role := range roles {
		tag, ok := meta.Tulpar.PrivateTags[role]
		if !ok {
			return nil, fmt.Errorf("%s: tulpar.privateTags.%s: required", where, role)
		}
		if _, ok := subs[tag]; !ok {
			return nil, fmt.Errorf("%s: tulpar.privateTags.%s: tag %q is not a subfield of field %d", where, role, tag, meta.Tulpar.PrivateField)
		}
	}
	for role := range meta.Tulpar.PrivateTags {
		if !contains(roles, role) {
			return nil, fmt.Errorf("%s: tulpar.privateTags.%s: unknown role (known: %s)", where, role, strings.Join(roles, ", "))
		}
	}
	for reason, rc := range meta.Tulpar.ReversalReasons {
		if _, ok := DefaultReversalReasons[reason]; !ok {
			return nil, fmt.Errorf("%s: tulpar.reversalReasons.%s: unknown reason (known: cancel, partial, doubt, late)", where, reason)
		}
		if len(rc) != 2 {
			return nil, fmt.Errorf("%s: tulpar.reversalReasons.%s: %q is not a 2-character DE39 value", where, reason, rc)
		}
	}
	cof := meta.Tulpar.CredentialOnFile
	if f22, ok := spec.Fields[22]; !ok || len(cof.POSEntryMode) != f22.Spec().Length || !digits(cof.POSEntryMode) {
		return nil, fmt.Errorf("%s: tulpar.credentialOnFile.posEntryMode: %q is not DE22's %d digits", where, cof.POSEntryMode, spec.Fields[22].Spec().Length)
	}
	tagLen := subs[meta.Tulpar.PrivateTags[RoleStoredCredential]].Spec().Length
	seen := map[string]string{}
	for _, use := range storedUses {
		v := cof.Indicators[use]
		switch {
		case v == "":
			return nil, fmt.Errorf("%s: tulpar.credentialOnFile.indicators.%s: required", where, use)
		case len(v) > tagLen:
			return nil, fmt.Errorf("%s: tulpar.credentialOnFile.indicators.%s: %q is longer than the %d characters of its subfield", where, use, v, tagLen)
		case seen[v] != "":
			return nil, fmt.Errorf("%s: tulpar.credentialOnFile.indicators.%s: %q is %s's value too", where, use, v, seen[v])
		}
		seen[v] = use
	}
	for use := range cof.Indicators {
		if !contains(storedUses, use) {
			return nil, fmt.Errorf("%s: tulpar.credentialOnFile.indicators.%s: unknown use (known: %s)", where, use, strings.Join(storedUses, ", "))
		}
	}
	return &Dialect{
		CredentialOnFile: CredentialOnFile{POSEntryMode: cof.POSEntryMode, Indicators: cof.Indicators},
		ReversalReasons:  meta.Tulpar.ReversalReasons,
		Name:             meta.Name,
		Description:      meta.Description,
		LengthHeader:     meta.Tulpar.LengthHeader,
		PrivateField:     meta.Tulpar.PrivateField,
		PrivateTags:      meta.Tulpar.PrivateTags,
		Spec:             spec,
	}, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
