package payments

import (
	"context"

	"github.com/tulpar-switch/tulpar/switch/order"

	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/threeds"
)

// AnswerFunc builds the journal entries of a caller's answer to the
// operation that ends in order o (challenge is the 3-D Secure challenge the
// buyer must pass, when that is how a payment ended).
type AnswerFunc func(o *order.Order, challenge *threeds.Outcome) []journal.Entry

type answerKey struct{}

type answerSlot struct {
	build     AnswerFunc
	challenge *threeds.Outcome
	// store, when the build set it, writes the caller's own record of the
	// answer in the same transaction (an idempotency record).
	store func(tx *bolt.Tx) error
	done  bool
}

// WithAnswer lets a caller commit its answer with the change that decides
// it: the flow's final commit also writes build's entries, so the answer
// is durable in the same fsync as the order change it reports rather than
// one commit later (a purchase through the API waited for five commits in
// series; this makes it three). answered reports whether that happened;
// when it did not (the flow failed before its final commit), the caller
// journals its answer itself.
//
// Only Register, Pay and Complete take an answer this way: they report
// their outcome in the order. The build function runs on the caller's
// goroutine, inside the flow, and must not call the Service.
func WithAnswer(ctx context.Context, build AnswerFunc) (context.Context, func() (answered bool)) {
	slot := &answerSlot{build: build}
	return context.WithValue(ctx, answerKey{}, slot), func() bool { return slot.done }
}

// pendingAnswer is the answer still to commit under ctx, or nil.
func pendingAnswer(ctx context.Context) *answerSlot {
	s, _ := ctx.Value(answerKey{}).(*answerSlot)
	if s == nil || s.done {
		return nil
	}
	return s
}

// notFinal marks a commit after which the flow goes on (write-ahead,
// expiry before a refusal): the caller's answer does not belong in it.
func notFinal(ctx context.Context) context.Context {
	return context.WithValue(ctx, answerKey{}, (*answerSlot)(nil))
}

// answerChallenge records the challenge the answer must carry.
func answerChallenge(ctx context.Context, out *threeds.Outcome) {
	if s := pendingAnswer(ctx); s != nil {
		s.challenge = out
	}
}
