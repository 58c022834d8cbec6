package demo

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/payments"
)

// How long Run waits: for the links to come up before it prints (the
// printout shows each link's state either way), and for the switch to
// finish what is in flight when it stops.
const (
	readyWait = 15 * time.Second
	stopWait  = 15 * time.Second
)

// Run is `tulpar demo`: it starts the demo, prints on out where everything
// is and how to pay a first order, runs until ctx ends, stops, and prints
// where the demo's data stays.
//
// With no o.DataDir it makes a temporary directory. The data directory is
// kept when the demo stops, on purpose: the auditors' tools (`tulpar
// journal`, `report`, `reconcile`) read a data file only when no switch
// holds it, so the end of a demo is the moment to try them on what it
// recorded. The last lines printed name the directory, those commands and
// how to remove it. Only when the demo fails to start is a directory it
// made removed again: it holds nothing to audit.
func Run(ctx context.Context, o Options, out io.Writer) error {
	made := false
	if o.DataDir == "" {
		dir, err := os.MkdirTemp("", "tulpar-demo-")
		if err != nil {
			return err
		}
		o.DataDir, made = dir, true
	}
	d, err := Start(ctx, o)
	if err != nil {
		if made {
			os.RemoveAll(o.DataDir)
		}
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, readyWait)
	if err := d.WaitReady(wctx); err != nil {
		o.Log.Warn().Err(err).Msg("not ready yet; the printout shows each link's state")
	}
	cancel()
	samples := 0
	if !o.NoSamples {
		fmt.Fprintf(out, "Making a few days of sample orders for the cabinet (through the simulated banks)...\n")
		if samples, err = d.FillSamples(ctx); err != nil {
			o.Log.Warn().Err(err).Int("made", samples).Msg("sample orders")
		}
	}
	d.writeWelcome(ctx, out, o.DataDir)
	d.writeCabinet(out, samples)
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), stopWait)
	defer cancel()
	err = d.Close(sctx)
	writeKept(out, o.DataDir, made, time.Now())
	if err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	return nil
}

// WriteConfig writes the demo's config as YAML, with a production data
// directory and the simulators' usual addresses: a complete file to start
// `tulpar serve` from.
func WriteConfig(w io.Writer, listen string) error {
	cfg, _, err := SwitchConfig("/var/lib/tulpar", listen, "http://127.0.0.1:8443", "127.0.0.1:8583")
	if err != nil {
		return err
	}
	cfg.CabinetListen = cabinetAddr("", listen)
	cfg.Fiscal = fiscalConfig("http://127.0.0.1:8090") // tulpar fiscalsim's default address
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	_, err = w.Write(out)
	return err
}

// writeWelcome prints the demo's addresses, the links' states, the demo
// merchant's credentials with curl commands, one order ready to pay, and
// the test cards.
func (d *Demo) writeWelcome(ctx context.Context, w io.Writer, dir string) {
	fmt.Fprintf(w, "Tulpar demo is running.\n\n")
	fmt.Fprintf(w, "  switch           %s\n", d.URL())
	fmt.Fprintf(w, "  metrics          %s/metrics   health %s/healthz   ready %s/readyz\n", d.URL(), d.URL(), d.URL())
	fmt.Fprintf(w, "  admin            %s/admin/links  /admin/saf  /admin/fiscal/dead?merchant=%s  /admin/journal/snapshot (operators only)\n", d.AdminURL(), Merchant)
	fmt.Fprintf(w, "  data             %s (kept when the demo stops, for the auditors' tools)\n", dir)
	fmt.Fprintf(w, "  3-D Secure sim   %s\n", d.ACSURL)
	fmt.Fprintf(w, "  mail             %s (daily reports; mail.host in a config sends over SMTP)\n", d.MailDir)
	fmt.Fprintf(w, "  fiscal sim       %s (Nurkassa API: %q's receipts; each appears at %s/ticket/N)\n", d.FiscalURL, Merchant, d.FiscalURL)
	for _, name := range []string{BankASCII, BankBinary} {
		st := d.Links().Get(name).Status()
		fmt.Fprintf(w, "  bank %-12s %s dialect, %s side, link %s\n", name, st.Dialect, st.Side, st.State)
	}
	fmt.Fprintf(w, "\nHTTPS with a certificate of the demo's own CA, %s: curl --cacert it, or import it\n", d.CAFile)
	fmt.Fprintf(w, "into the browser's trusted authorities to open the payment page without a warning.\n")
	d.writeMerchantAccess(ctx, w)
	d.writeCNPAccess(w)
}

// writeCabinet prints where the merchant cabinet is and how to sign in.
func (d *Demo) writeCabinet(w io.Writer, samples int) {
	if d.CabinetURL() != "" {
		fmt.Fprintf(w, "\nMerchant cabinet   %s/\n", d.CabinetURL())
		fmt.Fprintf(w, "  merchant user    login %s  password %s  (merchant %q)\n", CabinetUser, CabinetPassword, Merchant)
		fmt.Fprintf(w, "  operator         login %s  password %s  (every merchant, users, audit log)\n", CabinetOperator, CabinetPassword)
		if samples > 0 {
			fmt.Fprintf(w, "  sample orders    %d over the last %d days\n", samples, sampleDays)
		}
	}
	fmt.Fprintf(w, "\nCtrl-C stops the demo.\n")
}

// writeMerchantAccess prints the demo merchant's credentials and a curl
// that registers an order, and says where to pay it.
func (d *Demo) writeMerchantAccess(ctx context.Context, w io.Writer) {
	s := d.Secrets
	fmt.Fprintf(w, "\nDemo merchant %q\n", s.Merchant)
	fmt.Fprintf(w, "  RBS API          %s/payment/rest/   userName=%s password=%s (or token=%s)\n", d.URL(), s.UserName, s.Password, s.Token)
	fmt.Fprintf(w, "  JSON API         %s/v1/   Authorization: Bearer %s   (OpenAPI: %s/v1/openapi.yaml)\n", d.URL(), s.APIKey, d.URL())
	fmt.Fprintf(w, "\nRegister an order (150.00 KZT), then open the formUrl it answers to pay it:\n\n")
	fmt.Fprintf(w, "  curl -s --cacert %s %s/payment/rest/register.do -d userName=%s -d password=%s \\\n", d.CAFile, d.URL(), s.UserName, s.Password)
	fmt.Fprintf(w, "       -d orderNumber=demo-$(date +%%s) -d amount=15000 -d currency=398 -d returnUrl=https://shop.example.kz/ok\n")
	fmt.Fprintf(w, "\nor with the JSON API (the same key and body again replay the first answer):\n\n")
	fmt.Fprintf(w, "  curl -s --cacert %s %s/v1/orders -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \\\n", d.CAFile, d.URL(), s.APIKey)
	fmt.Fprintf(w, "       -H \"Idempotency-Key: $(date +%%s)\" \\\n")
	fmt.Fprintf(w, "       -d '{\"amount\":15000,\"order_number\":\"json-'$(date +%%s)'\",\"return_url\":\"https://shop.example.kz/ok\"}'\n")
	// One order ready to pay, for whoever wants to see the page first.
	o, err := d.Payments().Register(ctx, payments.RegisterRequest{Merchant: s.Merchant, Number: fmt.Sprintf("welcome-%d", time.Now().Unix()),
		Amount: 15000, Description: "Demo order", Language: "en", ReturnURL: "https://shop.example.kz/ok", Lifetime: 24 * time.Hour})
	if err == nil {
		fmt.Fprintf(w, "\nOr pay an order registered for you (150.00 KZT, valid 24 h):\n\n  %s/pay/%s\n", d.URL(), o.Order.ID)
	}
	fmt.Fprintf(w, "\nTest cards (expiry 12/30, CVV2 123): 4111 1111 1111 1111 frictionless 3-D Secure;\n")
	fmt.Fprintf(w, "  5555 5555 5555 5599 challenge (the code is shown on the ACS page); 4444 5555 1111 3333 not enrolled;\n")
	fmt.Fprintf(w, "  4012 0010 3816 6662 3-D Secure 1 password page (password: password); 5168 4948 9505 5780 fails 3-D Secure.\n")
}

// writeCNPAccess prints how the Processing.kz shop calls the switch: its
// merchantId, the service's address and WSDL, and a curl that starts a
// transaction as the vendor's PHP client writes one.
func (d *Demo) writeCNPAccess(w io.Writer) {
	svc := d.URL() + "/CNPMerchantWebServices/services/CNPMerchantWebService"
	fmt.Fprintf(w, "\nProcessing.kz shop %q (CNPMerchantWebService, SOAP 1.1 and 1.2), merchantId=%s, from this machine\n", CNPMerchant, CNPMerchantID)
	fmt.Fprintf(w, "  service          %s   (WSDL: %s?wsdl)\n", svc, svc)
	fmt.Fprintf(w, "\nStart a transaction (150.00 KZT), then open the redirectURL it answers to pay it;\n")
	fmt.Fprintf(w, "getTransactionStatus, completeTransaction and refundTransaction follow with its customerReference:\n\n")
	fmt.Fprintf(w, "  curl -s --cacert %s %s -H 'Content-Type: text/xml; charset=utf-8' \\\n", d.CAFile, svc)
	fmt.Fprintf(w, "       -H 'SOAPAction: \"urn:startTransaction\"' --data-binary @- <<EOF\n")
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ns="http://kz.processing.cnp.merchant_ws/xsd" xmlns:ax="http://beans.common.cnp.processing.kz/xsd">
 <soapenv:Body><ns:startTransaction><ns:transaction>
  <ax:currencyCode>398</ax:currencyCode>
  <ax:description>Demo purchase</ax:description>
  <ax:goodsList><ax:amount>15000</ax:amount><ax:currencyCode>398</ax:currencyCode><ax:nameOfGoods>Demo goods</ax:nameOfGoods></ax:goodsList>
  <ax:languageCode>ru</ax:languageCode>
  <ax:merchantId>%s</ax:merchantId>
  <ax:merchantLocalDateTime>$(date +'%%d.%%m.%%Y %%H:%%M:%%S')</ax:merchantLocalDateTime>
  <ax:orderId>demo-$(date +%%s)</ax:orderId>
  <ax:returnURL>https://cnp-shop.example.kz/result?sessionID=</ax:returnURL>
  <ax:totalAmount>15000</ax:totalAmount>
 </ns:transaction></ns:startTransaction></soapenv:Body>
</soapenv:Envelope>
EOF
`, CNPMerchantID)
}

// writeKept says, once the demo has stopped, where its data is and what to
// do with it. made is whether Run made the directory (then it also says
// how to remove it).
func writeKept(w io.Writer, dir string, made bool, now time.Time) {
	fmt.Fprintf(w, "\nTulpar demo stopped. Its data is kept in %s:\n", dir)
	fmt.Fprintf(w, "the journal and the orders in %s, and the demo's keys. The auditors' tools read a data\n", journal.DataFile)
	fmt.Fprintf(w, "file only when no switch holds it, so now they can:\n\n")
	fmt.Fprintf(w, "  tulpar journal verify --data %s\n", dir)
	fmt.Fprintf(w, "  tulpar journal replay --data %s\n", dir)
	fmt.Fprintf(w, "  tulpar report daily --data %s --date %s --out -\n", dir, now.UTC().Format(time.DateOnly))
	if made {
		fmt.Fprintf(w, "\nIt is a temporary directory; remove it with: rm -r %s\n", dir)
	}
}
