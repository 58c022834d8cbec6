package switchtest

import (
	"context"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/hsm"
	"github.com/tulpar-switch/tulpar/iso"
	"github.com/tulpar-switch/tulpar/routing"
	"github.com/tulpar-switch/tulpar/switch/callbacks"
	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/saf"
	"github.com/tulpar-switch/tulpar/switch/threeds"
)

// The fakes are what payments (and callbacks) consume.
var (
	_ payments.Banks         = (*Banks)(nil)
	_ payments.Router        = (*Router)(nil)
	_ payments.Vault         = (*Vault)(nil)
	_ payments.Queue         = (*Queue)(nil)
	_ callbacks.Enqueuer     = (*Queue)(nil)
	_ payments.Authenticator = (*Authenticator)(nil)
)

// Banks is payments.Banks. A nil field is a bank that is up and approves
// everything: Ready is true, Codec is the ascii dialect, and Send answers
// DE39 00 with an approval code.
type Banks struct {
	SendFunc  func(ctx context.Context, bank string, m *iso.Message) (*iso.Message, error)
	ReadyFunc func(bank string) bool
	CodecFunc func(bank string) (*iso.Codec, bool)
}

func (b *Banks) Send(ctx context.Context, bank string, m *iso.Message) (*iso.Message, error) {
	if b.SendFunc != nil {
		return b.SendFunc(ctx, bank, m)
	}
	return Approve(m), nil
}

func (b *Banks) Ready(bank string) bool {
	if b.ReadyFunc != nil {
		return b.ReadyFunc(bank)
	}
	return true
}

func (b *Banks) Codec(bank string) (*iso.Codec, bool) {
	if b.CodecFunc != nil {
		return b.CodecFunc(bank)
	}
	return asciiCodec()
}

// Approve is a bank's approval of request m: DE39 00 and an approval code.
func Approve(m *iso.Message) *iso.Message {
	r := iso.Respond(m, iso.RCApproved)
	r.ApprovalCode = "A1B2C3"
	return r
}

var asciiCodec = sync.OnceValues(func() (*iso.Codec, bool) {
	c, err := iso.LoadCodec("ascii")
	return c, err == nil
})

// Router is payments.Router. A nil RouteFunc routes every payment to
// BankName alone, ready or not.
type Router struct {
	RouteFunc func(p routing.Payment, ready func(bank string) bool) (routing.Decision, error)
}

func (r *Router) Route(p routing.Payment, ready func(bank string) bool) (routing.Decision, error) {
	if r.RouteFunc != nil {
		return r.RouteFunc(p, ready)
	}
	return routing.Decision{Bank: BankName, Rule: "all", Candidates: []string{BankName}}, nil
}

// Vault is payments.Vault. A nil field is the real thing: an ephemeral
// software security module (hsm.NewEphemeral), created at first use and
// shared by the Vault's methods, so a ciphertext decrypts.
type Vault struct {
	EncryptPANFunc  func(ctx context.Context, pan string) ([]byte, error)
	DecryptPANFunc  func(ctx context.Context, ciphertext []byte) (string, error)
	TokenizePANFunc func(ctx context.Context, pan string) (string, error)

	once sync.Once
	soft *hsm.Soft
}

func (v *Vault) real() *hsm.Soft {
	v.once.Do(func() {
		var err error
		if v.soft, err = hsm.NewEphemeral(); err != nil {
			panic(err) // only when the system's randomness fails
		}
	})
	return v.soft
}

func (v *Vault) EncryptPAN(ctx context.Context, pan string) ([]byte, error) {
	if v.EncryptPANFunc != nil {
		return v.EncryptPANFunc(ctx, pan)
	}
	return v.real().EncryptPAN(ctx, pan)
}

func (v *Vault) DecryptPAN(ctx context.Context, ciphertext []byte) (string, error) {
	if v.DecryptPANFunc != nil {
		return v.DecryptPANFunc(ctx, ciphertext)
	}
	return v.real().DecryptPAN(ctx, ciphertext)
}

func (v *Vault) TokenizePAN(ctx context.Context, pan string) (string, error) {
	if v.TokenizePANFunc != nil {
		return v.TokenizePANFunc(ctx, pan)
	}
	return v.real().TokenizePAN(ctx, pan)
}

// Queue is payments.Queue and callbacks' Enqueuer. A nil EnqueueTxFunc
// keeps the item in memory (Items), whether or not the transaction then
// commits; a nil NotifyFunc records the key (Notified); a nil KickFunc does
// nothing.
type Queue struct {
	EnqueueTxFunc func(tx *bolt.Tx, it saf.Item) (uint64, error)
	NotifyFunc    func(key string)
	KickFunc      func(key string)

	mu       sync.Mutex
	items    []saf.Item
	notified []string
}

func (q *Queue) EnqueueTx(tx *bolt.Tx, it saf.Item) (uint64, error) {
	if q.EnqueueTxFunc != nil {
		return q.EnqueueTxFunc(tx, it)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	it.ID = uint64(len(q.items) + 1)
	q.items = append(q.items, it)
	return it.ID, nil
}

func (q *Queue) Notify(key string) {
	if q.NotifyFunc != nil {
		q.NotifyFunc(key)
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.notified = append(q.notified, key)
}

func (q *Queue) Kick(key string) {
	if q.KickFunc != nil {
		q.KickFunc(key)
	}
}

// Items are the items kept by a nil EnqueueTxFunc, oldest first.
func (q *Queue) Items() []saf.Item {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]saf.Item(nil), q.items...)
}

// Notified are the keys a nil NotifyFunc recorded, oldest first.
func (q *Queue) Notified() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]string(nil), q.notified...)
}

// Authenticator is payments.Authenticator (3-D Secure). A nil field
// answers as for a card that is not enrolled: the payment proceeds at ECI
// 07, as without 3-D Secure.
type Authenticator struct {
	BeginFunc  func(ctx context.Context, req threeds.Request) (threeds.Outcome, error)
	ResultFunc func(ctx context.Context, transID string) (threeds.Outcome, error)
}

func (a *Authenticator) Begin(ctx context.Context, req threeds.Request) (threeds.Outcome, error) {
	if a.BeginFunc != nil {
		return a.BeginFunc(ctx, req)
	}
	return notEnrolled(req.TransID), nil
}

func (a *Authenticator) Result(ctx context.Context, transID string) (threeds.Outcome, error) {
	if a.ResultFunc != nil {
		return a.ResultFunc(ctx, transID)
	}
	return notEnrolled(transID), nil
}

func notEnrolled(transID string) threeds.Outcome {
	return threeds.Outcome{Status: threeds.NotEnrolled, TransID: transID, ECI: "07", Version: "2.2.0"}
}
