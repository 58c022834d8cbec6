package acs

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/tulpar-switch/tulpar/emv3ds"
	"github.com/tulpar-switch/tulpar/iso"
)

// maxJSONBody bounds an AReq; real ones are a few kilobytes.
const maxJSONBody = 64 << 10

// maxFormBody bounds what a browser may POST to the challenge page.
const maxFormBody = 16 << 10

// Server is the simulated Directory Server and ACS. It is safe for
// concurrent use; its transactions live in memory until Config.TTL passes.
type Server struct {
	cfg Config
	key []byte
	log zerolog.Logger
	mux *http.ServeMux

	mu        sync.Mutex
	txns      map[string]*txn // by threeDSServerTransID
	nextSweep time.Time
}

// txn is one authentication. It holds no PAN and no CAVV: the CAVV is
// recomputed from binding whenever the result is asked for.
type txn struct {
	id, acsTransID, dsTransID, version string
	behaviour                          Behaviour
	mc                                 bool
	masked                             string // first six, last four
	merchant                           string
	amount                             int64
	exponent                           int
	currency                           string
	binding                            [sha256.Size]byte
	fingerprint                        [sha256.Size]byte // of the AReq, to answer a repeat
	notificationURL, acsURL            string
	status, reason                     string // "C" until the challenge ends
	code                               string // the one-time code; empty for a password page
	attempts                           int
	expires                            time.Time
}

// New returns a server for cfg; zero fields of cfg take their defaults. It
// panics if cfg does not pass Validate: configuration from a file should be
// validated first, where the error can name the key.
func New(cfg Config, log zerolog.Logger) *Server {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	cfg = cfg.withDefaults()
	key := cfg.Key
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			panic(fmt.Errorf("acs: key: %w", err))
		}
	}
	s := &Server{
		cfg:  cfg,
		key:  key,
		log:  log,
		txns: make(map[string]*txn),
		mux:  http.NewServeMux(),
	}
	s.mux.HandleFunc("POST /ds/authenticate", s.authenticate)
	s.mux.HandleFunc("GET /ds/result/{id}", s.result)
	s.mux.HandleFunc("GET /acs/challenge", s.challenge)
	s.mux.HandleFunc("POST /acs/challenge", s.challenge)
	return s
}

// Handler returns the server's HTTP handler, to mount at the root of a
// listener (or under http.StripPrefix).
func (s *Server) Handler() http.Handler { return s.mux }

// VerifyCAVV checks a CAVV under the server's key, for tests and a
// simulated bank sharing the process when Config.Key was left empty.
func (s *Server) VerifyCAVV(in CAVVInput, cavv string) bool { return VerifyCAVV(s.key, in, cavv) }

func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBody))
	if err != nil {
		s.erro(w, http.StatusRequestEntityTooLarge, emv3ds.Erro{ErrorCode: emv3ds.ErrorCodeInvalid, ErrorDescription: "AReq too large or unreadable"})
		return
	}
	req, err := parseAReq(body)
	if err != nil {
		var fe *emv3ds.FieldError
		errors.As(err, &fe)
		e := emv3ds.Erro{ErrorCode: fe.Code, ErrorDescription: fe.Reason, ErrorDetail: fe.Element}
		if emv3ds.ValidTransID(req.ThreeDSServerTransID) {
			e.ThreeDSServerTransID = req.ThreeDSServerTransID
		}
		s.log.Warn().Str("event", "areq_invalid").Str("element", fe.Element).Str("why", fe.Reason).Msg("AReq rejected")
		s.erro(w, http.StatusBadRequest, e)
		return
	}

	behaviour, ok := s.cfg.Cards[req.AcctNumber]
	switch {
	case ok:
	case iso.Luhn(req.AcctNumber):
		behaviour = Frictionless
	default:
		behaviour = "" // fails below with reason 06, invalid card number
	}
	fp := s.fingerprint(req)
	now := s.cfg.Now()

	s.mu.Lock()
	t := s.lookup(req.ThreeDSServerTransID, now)
	if t != nil {
		// The same AReq again (the buyer pressed Pay twice, the switch
		// retried after a timeout) gets the same answer; another AReq under
		// a used id is refused, never allowed to overwrite a transaction.
		same := hmac.Equal(t.fingerprint[:], fp[:])
		var res emv3ds.Result
		if same {
			res = s.resultOf(t, emv3ds.MessageTypeARes)
		}
		s.mu.Unlock()
		if !same {
			s.erro(w, http.StatusConflict, emv3ds.Erro{ErrorCode: emv3ds.ErrorCodeInvalid, ErrorDetail: "threeDSServerTransID",
				ErrorDescription: "threeDSServerTransID already used by another AReq", ThreeDSServerTransID: req.ThreeDSServerTransID})
			return
		}
		s.log.Info().Str("event", "areq_repeat").Str("trans_id", t.id).Str("trans_status", res.TransStatus).Msg("repeated AReq answered again")
		writeJSON(w, http.StatusOK, res)
		return
	}
	if !s.room(now) {
		s.mu.Unlock()
		s.log.Warn().Str("event", "areq_full").Int("max", s.cfg.MaxTransactions).Msg("too many transactions held")
		s.erro(w, http.StatusServiceUnavailable, emv3ds.Erro{ErrorCode: emv3ds.ErrorCodeTransient, ErrorDescription: "transient system failure: too many transactions", ThreeDSServerTransID: req.ThreeDSServerTransID})
		return
	}
	t = s.newTxn(req, behaviour, fp, now, s.baseURL(r)+"/acs/challenge")
	s.txns[t.id] = t
	res := s.resultOf(t, emv3ds.MessageTypeARes)
	s.mu.Unlock()

	s.log.Info().Str("event", "areq").Str("trans_id", t.id).Str("ds_trans_id", t.dsTransID).
		Str("pan", t.masked).Str("behaviour", string(behaviour)).Str("version", t.version).
		Str("trans_status", res.TransStatus).Str("eci", res.ECI).Bool("cavv", res.AuthenticationValue != "").
		Msg("AReq answered")
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) newTxn(req areq, b Behaviour, fp [sha256.Size]byte, now time.Time, acsURL string) *txn {
	exp := 2
	if req.PurchaseExponent != "" {
		exp = int(req.PurchaseExponent[0] - '0')
	}
	t := &txn{
		id:              req.ThreeDSServerTransID,
		acsTransID:      uuid.NewString(),
		dsTransID:       uuid.NewString(),
		version:         emv3ds.Version220,
		behaviour:       b,
		mc:              mastercard(req.AcctNumber),
		masked:          iso.MaskPAN(req.AcctNumber),
		merchant:        req.MerchantName,
		amount:          req.amount,
		exponent:        exp,
		currency:        req.PurchaseCurrency,
		binding:         panBinding(s.key, req.AcctNumber, req.amount, req.PurchaseCurrency),
		fingerprint:     fp,
		notificationURL: req.NotificationURL,
		expires:         now.Add(s.cfg.TTL),
	}
	switch b {
	case Frictionless:
		t.status = "Y"
	case Attempted:
		t.status = "A"
	case Failed:
		t.status, t.reason = "N", "01" // card authentication failed
	case NotEnrolled:
		t.status, t.reason = "U", "13" // cardholder not enrolled in service
	case Rejected:
		t.status, t.reason = "R", "11" // suspected fraud
	case Challenge:
		t.status, t.acsURL, t.code = "C", acsURL, oneTimeCode()
	case Password:
		// 3-D Secure 1 names the transaction by a 20-byte XID, which is
		// what goes to the bank where 2.x sends the dsTransID.
		t.status, t.acsURL, t.version, t.dsTransID = "C", acsURL, emv3ds.Version102, newXID()
	default:
		t.status, t.reason = "N", "06" // invalid card number
	}
	return t
}

// resultOf is what the DS says about t now. Callers hold s.mu.
func (s *Server) resultOf(t *txn, messageType string) emv3ds.Result {
	r := emv3ds.Result{
		MessageType:          messageType,
		MessageVersion:       t.version,
		ThreeDSServerTransID: t.id,
		DSTransID:            t.dsTransID,
		ACSTransID:           t.acsTransID,
		TransStatus:          t.status,
		TransStatusReason:    t.reason,
	}
	switch t.status {
	case "C":
		r.ACSURL = t.acsURL
	case "Y", "A":
		r.ECI = eciFor(t.mc, t.status)
		r.AuthenticationValue = cavvFrom(s.key, t.binding, t.dsTransID, t.version, r.ECI)
	default:
		r.ECI = eciFor(t.mc, t.status)
	}
	return r
}

func (s *Server) result(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	t := s.lookup(id, s.cfg.Now())
	var res emv3ds.Result
	if t != nil {
		res = s.resultOf(t, emv3ds.MessageTypeRRes)
	}
	s.mu.Unlock()
	if t == nil {
		e := emv3ds.Erro{ErrorCode: emv3ds.ErrorCodeUnknownTransaction, ErrorDescription: "transaction ID not recognized or expired"}
		if emv3ds.ValidTransID(id) {
			e.ThreeDSServerTransID = id
		}
		s.log.Warn().Str("event", "result_unknown").Str("trans_id", e.ThreeDSServerTransID).Msg("result asked for an unknown or expired transaction")
		s.erro(w, http.StatusNotFound, e)
		return
	}
	s.log.Info().Str("event", "result").Str("trans_id", res.ThreeDSServerTransID).
		Str("trans_status", res.TransStatus).Str("eci", res.ECI).Bool("cavv", res.AuthenticationValue != "").
		Msg("result given")
	writeJSON(w, http.StatusOK, res)
}

// lookup returns the live transaction id, or nil. Callers hold s.mu.
func (s *Server) lookup(id string, now time.Time) *txn {
	t := s.txns[id]
	if t == nil {
		return nil
	}
	if !now.Before(t.expires) {
		delete(s.txns, id)
		return nil
	}
	return t
}

// room sweeps expired transactions now and then (at most every TTL/4, and
// whenever the table is full) and reports whether one more fits. Sweeping
// on the request path keeps the server free of background goroutines.
func (s *Server) room(now time.Time) bool {
	if now.After(s.nextSweep) || len(s.txns) >= s.cfg.MaxTransactions {
		for id, t := range s.txns {
			if !now.Before(t.expires) {
				delete(s.txns, id)
			}
		}
		s.nextSweep = now.Add(s.cfg.TTL / 4)
	}
	return len(s.txns) < s.cfg.MaxTransactions
}

// fingerprint identifies an AReq's content (browser data aside) without
// keeping the PAN.
func (s *Server) fingerprint(r areq) [sha256.Size]byte {
	m := hmac.New(sha256.New, s.key)
	for _, v := range []string{"tulpar-acs-areq/1", r.AcctNumber, r.CardExpiryDate, r.PurchaseAmount, r.PurchaseCurrency,
		r.PurchaseExponent, r.MerchantName, r.AcquirerBIN, r.AcquirerMerchantID, r.NotificationURL} {
		m.Write([]byte(v))
		m.Write([]byte{0})
	}
	var b [sha256.Size]byte
	m.Sum(b[:0])
	return b
}

func (s *Server) baseURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return trimSlash(s.cfg.PublicURL)
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

func (s *Server) erro(w http.ResponseWriter, status int, e emv3ds.Erro) {
	e.MessageType = emv3ds.MessageTypeErro
	if e.ErrorComponent == "" {
		e.ErrorComponent = emv3ds.ErrorComponentDS
	}
	writeJSON(w, status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// oneTimeCode is six random digits from crypto/rand.
func oneTimeCode() string {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		panic(fmt.Errorf("acs: one-time code: %w", err))
	}
	c := strconv.FormatInt(n.Int64(), 10)
	for len(c) < 6 {
		c = "0" + c
	}
	return c
}

// newXID is a 3-D Secure 1 transaction identifier: 20 random bytes, base64.
func newXID() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}
