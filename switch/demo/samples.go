package demo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync/atomic"
	"time"

	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/users"
)

// The demo cabinet's users: fixed, so that the printed sign-in works every
// run. Never use them anywhere but on a loopback demo.
const (
	CabinetUser     = "demo"
	CabinetOperator = "demo-operator"
	CabinetPassword = "demo-cabinet-0001"
)

// clock is the payment flows' clock in the demo: real time, but one the
// sample orders can set back to the days they were "made" on, so that the
// cabinet opens on a few days of history made by the real flows.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// at sets the clock to t (and back to real time with the zero time).
func (c *clock) at(t time.Time) {
	if t.IsZero() {
		c.offset.Store(0)
		return
	}
	c.offset.Store(int64(time.Until(t)))
}

// ensureCabinetUsers creates the demo's merchant user and operator once.
func (d *Demo) ensureCabinetUsers(ctx context.Context) error {
	us := d.Users()
	if us == nil {
		return nil
	}
	for _, u := range []users.NewUser{
		{Login: CabinetUser, Role: users.RoleMerchant, Merchant: Merchant, Language: "ru"},
		{Login: CabinetOperator, Role: users.RoleOperator, Language: "ru"},
	} {
		u.Password, u.Permanent = CabinetPassword, true
		if _, err := us.Create(ctx, u, "demo"); err != nil && !errors.Is(err, users.ErrExists) {
			return fmt.Errorf("demo: cabinet user %s: %w", u.Login, err)
		}
	}
	return nil
}

// sampleDays is how many days back the sample orders start.
const sampleDays = 4

// Cards the samples pay with (the demo banks' book, default CVV2 123):
// frictionless or not enrolled in 3-D Secure, so no sample waits for a
// person at an ACS; and two the banks decline.
var sampleCards = []struct {
	pan    string
	weight int
}{
	{"4444555511113333", 5}, // not enrolled: approved
	{"4111111111111111", 4}, // frictionless 3-D Secure: approved
	{"4000000000000044", 1}, // lost: 41
	{"4000001111111118", 1}, // 1 000.00 KZT in the account: 51 above it
}

var sampleGoods = []order.CartItem{
	{Name: "Электрочайник Bosch", Quantity: 1, Price: 1_899_000}, {Name: "Кофе в зёрнах, 1 кг", Quantity: 2, Price: 749_000},
	{Name: "Наушники", Quantity: 1, Price: 1_250_000}, {Name: "Кітап: Абай жолы", Quantity: 1, Price: 450_000},
	{Name: "Футболка", Quantity: 3, Price: 390_000}, {Name: "Доставка", Quantity: 1, Price: 150_000},
}

// FillSamples makes a few days of orders through the real payment flows,
// the simulated banks and 3-D Secure, with the flows' clock set back to each
// order's moment: paid, held and completed, refunded in part, cancelled,
// declined by the bank, abandoned and expired. It does nothing when the
// store already holds orders (a demo restarted on its data), and returns
// how many orders it made.
func (d *Demo) FillSamples(ctx context.Context) (int, error) {
	page, err := d.Payments().Store().Find(payments.Query{}, payments.SortCreated, false, 0, 1)
	if err != nil {
		return 0, err
	}
	if page.Total > 0 {
		return 0, nil
	}
	defer d.clock.at(time.Time{})
	loc := d.Payments().Zone(Merchant)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 17))
	now := time.Now().In(loc)
	var steps []step
	n := 0
	for day := sampleDays - 1; day >= 0; day-- {
		date := time.Date(now.Year(), now.Month(), now.Day()-day, 0, 0, 0, 0, loc)
		count := 9 + rng.IntN(8)
		for range count {
			at := date.Add(9*time.Hour + time.Duration(rng.Int64N(int64(12*time.Hour))))
			if !at.Before(now.Add(-30 * time.Minute)) {
				continue // no sample in the future, nor in the last half hour
			}
			n++
			s := d.sampleOrder(rng, n, at)
			steps = append(steps, step{at, s.register})
			steps = append(steps, s.later...)
		}
		// Unpaid orders of the day expire at its end, as the expiry loop
		// would have declined them.
		end := date.Add(23*time.Hour + 59*time.Minute)
		if end.Before(now) {
			steps = append(steps, step{end, func(time.Time) error { _, err := d.Payments().ExpireDue(ctx); return err }})
		}
	}
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].at.Before(steps[j].at) })
	for _, st := range steps {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		// The clock only goes forward: RRNs are reserved by period.
		d.clock.at(st.at)
		if err := st.do(st.at); err != nil {
			return n, fmt.Errorf("demo: sample orders: %w", err)
		}
	}
	return n, nil
}

// step is one thing a sample order does, at its moment.
type step struct {
	at time.Time
	do func(at time.Time) error
}

// sample is one sample order's life: its registration and what follows.
type sample struct {
	register func(time.Time) error
	later    []step
}

func (d *Demo) sampleOrder(rng *rand.Rand, n int, at time.Time) sample {
	ctx := context.Background()
	svc := d.Payments()
	var cart []order.CartItem
	var amount int64
	for range 1 + rng.IntN(3) {
		it := sampleGoods[rng.IntN(len(sampleGoods))]
		cart = append(cart, it)
		amount += it.Quantity * it.Price
	}
	if rng.IntN(6) == 0 {
		cart, amount = nil, int64(50_000+rng.IntN(20)*25_000) // a small one without a cart
	}
	twoStage := rng.IntN(3) == 0
	pan := pickCard(rng)
	fate := rng.IntN(10)
	var id string
	s := sample{}
	s.register = func(time.Time) error {
		reg, err := svc.Register(ctx, payments.RegisterRequest{Merchant: Merchant, Number: fmt.Sprintf("%d", 10000+n), Amount: amount,
			Description: fmt.Sprintf("Заказ %d в Demo Shop", 10000+n), Cart: cart, Email: fmt.Sprintf("buyer%d@example.kz", n),
			Language: []string{"ru", "kk", "en"}[rng.IntN(3)], ReturnURL: "https://shop.example.kz/ok", TwoStage: twoStage,
			Params: map[string]string{"CMS": "Opencart 2.1.x", "Module-Version": "2.2.0"}})
		if err != nil {
			return err
		}
		id = reg.Order.ID
		if fate == 0 {
			return nil // abandoned: it expires
		}
		_, err = svc.Pay(ctx, payments.PayRequest{OrderID: id, IP: fmt.Sprintf("81.18.144.%d", 10+rng.IntN(200)),
			Card: payments.CardInput{PAN: pan, Expiry: "3012", CVV2: "123", Holder: "DEMO BUYER"}, NotificationURL: d.URL() + "/pay/" + id + "/3ds"})
		return err
	}
	then := func(after time.Duration, f func(o *order.Order) error) {
		s.later = append(s.later, step{at.Add(after), func(time.Time) error {
			if id == "" {
				return nil
			}
			o, err := svc.Get(ctx, id)
			if err != nil {
				return err
			}
			return f(o)
		}})
	}
	switch {
	case twoStage && fate <= 6:
		then(time.Duration(20+rng.IntN(100))*time.Minute, func(o *order.Order) error {
			if o.Status != order.StatusApproved {
				return nil
			}
			_, err := svc.Complete(ctx, payments.FollowUpRequest{OrderID: o.ID, Amount: o.Approved - int64(rng.IntN(2))*o.Approved/10})
			return err
		})
	case twoStage && fate == 7:
		then(time.Duration(10+rng.IntN(60))*time.Minute, func(o *order.Order) error {
			if o.Status != order.StatusApproved {
				return nil
			}
			_, err := svc.Cancel(ctx, payments.FollowUpRequest{OrderID: o.ID})
			return err
		})
	case !twoStage && fate >= 8:
		then(time.Duration(60+rng.IntN(240))*time.Minute, func(o *order.Order) error {
			if o.Status != order.StatusDeposited {
				return nil
			}
			amount := o.Deposited
			if fate == 8 {
				amount = o.Deposited / 4
			}
			_, err := svc.Refund(ctx, payments.FollowUpRequest{OrderID: o.ID, Amount: amount, IdemKey: "demo-" + o.ID})
			if errors.Is(err, payments.ErrUnavailable) {
				return nil // a bank not signed on yet: one refund fewer
			}
			return err
		})
	}
	return s
}

func pickCard(rng *rand.Rand) string {
	total := 0
	for _, c := range sampleCards {
		total += c.weight
	}
	n := rng.IntN(total)
	for _, c := range sampleCards {
		if n < c.weight {
			return c.pan
		}
		n -= c.weight
	}
	return sampleCards[0].pan
}
