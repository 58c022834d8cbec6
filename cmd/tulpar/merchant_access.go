package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/tulpar-switch/tulpar/switch/demo"
	"github.com/tulpar-switch/tulpar/switch/payments"
)

// printMerchantAccess prints the demo merchant's credentials and a curl
// that registers an order, and says where to pay it.
func printMerchantAccess(ctx context.Context, w io.Writer, d *demo.Demo) {
	s := d.Secrets
	fmt.Fprintf(w, "\nDemo merchant %q\n", s.Merchant)
	fmt.Fprintf(w, "  RBS API          %s/payment/rest/   userName=%s password=%s (or token=%s)\n", d.URL(), s.UserName, s.Password, s.Token)
	fmt.Fprintf(w, "  JSON API         %s/v1/   Authorization: Bearer %s   (OpenAPI: %s/v1/openapi.yaml)\n", d.URL(), s.APIKey, d.URL())
	fmt.Fprintf(w, "\nRegister an order (150.00 KZT), then open the formUrl it answers to pay it:\n\n")
	fmt.Fprintf(w, "  curl -s %s/payment/rest/register.do -d userName=%s -d password=%s \\\n", d.URL(), s.UserName, s.Password)
	fmt.Fprintf(w, "       -d orderNumber=demo-$(date +%%s) -d amount=15000 -d currency=398 -d returnUrl=https://shop.example.kz/ok\n")
	fmt.Fprintf(w, "\nor with the JSON API (the same key and body again replay the first answer):\n\n")
	fmt.Fprintf(w, "  curl -s %s/v1/orders -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \\\n", d.URL(), s.APIKey)
	fmt.Fprintf(w, "       -H \"Idempotency-Key: $(date +%%s)\" \\\n")
	fmt.Fprintf(w, "       -d '{\"amount\":15000,\"order_number\":\"json-'$(date +%%s)'\",\"return_url\":\"https://shop.example.kz/ok\"}'\n")
	// One order ready to pay, for whoever wants to see the page first.
	o, err := d.Payments().Register(ctx, payments.RegisterRequest{Merchant: s.Merchant, Number: fmt.Sprintf("welcome-%d", time.Now().Unix()),
		Amount: 15000, Description: "Demo order", Language: "en", ReturnURL: "https://shop.example.kz/ok", Lifetime: 24 * time.Hour})
	if err == nil {
		fmt.Fprintf(w, "\nOr pay an order registered for you (150.00 KZT, valid 24 h):\n\n  %s/pay/%s\n", d.URL(), o.ID)
	}
	fmt.Fprintf(w, "\nTest cards (expiry 12/30, CVV2 123): 4111 1111 1111 1111 frictionless 3-D Secure;\n")
	fmt.Fprintf(w, "  5555 5555 5555 5599 challenge (the code is shown on the ACS page); 4444 5555 1111 3333 not enrolled;\n")
	fmt.Fprintf(w, "  4012 0010 3816 6662 3-D Secure 1 password page (password: password); 5168 4948 9505 5780 fails 3-D Secure.\n")
}
