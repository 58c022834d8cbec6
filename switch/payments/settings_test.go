package payments_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/payments"
	"github.com/tulpar-switch/tulpar/switch/switchtest"
)

// TestSettingsLimitReturnHosts: a merchant that names its return hosts
// gets no order whose return or fail URL leads elsewhere.
func TestSettingsLimitReturnHosts(t *testing.T) {
	ctx := context.Background()
	svc := switchtest.NewService(t, switchtest.PaymentsConfig("a"), payments.Deps{})
	reg := func(number, ret, fail string) error {
		_, err := svc.Register(ctx, payments.RegisterRequest{Merchant: switchtest.Merchant, Number: number, Amount: 100, ReturnURL: ret, FailURL: fail})
		return err
	}
	require.NoError(t, reg("1", "https://evil.example/ok", ""), "no hosts named: any")

	for _, bad := range [][]string{{"shop kz"}, {"https://shop.kz"}, {"*."}, {"a..b"}} {
		_, err := svc.SetSettings(ctx, switchtest.Merchant, payments.Settings{ReturnHosts: bad}, "tester")
		require.ErrorIs(t, err, payments.ErrSettings, "%q", bad)
	}
	_, err := svc.SetSettings(ctx, switchtest.Merchant, payments.Settings{CallbackURL: "ftp://x"}, "tester")
	require.ErrorIs(t, err, payments.ErrSettings)
	_, err = svc.SetSettings(ctx, "nobody", payments.Settings{}, "tester")
	var ie *order.InputError
	require.True(t, errors.As(err, &ie))

	got, err := svc.SetSettings(ctx, switchtest.Merchant, payments.Settings{CallbackURL: " https://shop.kz/cb ",
		ReturnHosts: []string{"Shop.KZ", "*.shop.kz", "shop.kz", ""}}, "tester")
	require.NoError(t, err)
	require.Equal(t, []string{"shop.kz", "*.shop.kz"}, got.ReturnHosts)
	require.Equal(t, "https://shop.kz/cb", svc.CallbackURL(switchtest.Merchant))
	require.Equal(t, "tester", svc.Settings(switchtest.Merchant).UpdatedBy)

	require.NoError(t, reg("2", "https://shop.kz/ok", "https://pay.shop.kz/fail"))
	require.NoError(t, reg("3", "", ""), "no URL at all")
	err = reg("4", "https://evil.example/ok", "")
	require.True(t, errors.As(err, &ie))
	require.Equal(t, "returnUrl", ie.Field)
	err = reg("5", "https://shop.kz/ok", "https://shop.kz.evil.example/")
	require.True(t, errors.As(err, &ie))
	require.Equal(t, "failUrl", ie.Field)
}
