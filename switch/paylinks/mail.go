package paylinks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/mailer"
	"github.com/tulpar-switch/tulpar/switch/order"
	"github.com/tulpar-switch/tulpar/switch/qrcode"
	"github.com/tulpar-switch/tulpar/switch/saf"
)

// mailJob is a queued invoice mail's payload: the mail is built from the
// link when it is sent.
type mailJob struct {
	Code string `json:"code"`
}

// Deliver sends one queued invoice mail (the saf.Deliverer of
// order.KindInvoiceMail items), journaled before and after the send as
// switch/reportmail does: SMTP is at least once.
func (s *Service) Deliver(ctx context.Context, it saf.Item, repeat bool) (saf.Outcome, error) {
	var jb mailJob
	if err := json.Unmarshal(it.Payload, &jb); err != nil || jb.Code == "" {
		return saf.Rejected, fmt.Errorf("paylinks: item %d: undecodable payload", it.ID)
	}
	if s.d.Mail == nil {
		return saf.Rejected, errors.New("paylinks: mail is not configured")
	}
	l, err := s.Get("", jb.Code)
	if errors.Is(err, ErrNotFound) {
		return saf.Rejected, fmt.Errorf("paylinks: item %d: %w", it.ID, err)
	} else if err != nil {
		return saf.Retry, err
	}
	msg, err := s.InvoiceMail(l)
	if err != nil {
		return saf.Rejected, err
	}
	out, _ := json.Marshal(map[string]any{"kind": "invoice", "code": l.Code, "merchant": l.Merchant,
		"to": msg.To, "subject": msg.Subject, "repeat": repeat})
	if _, err := s.d.Journal.Append(ctx, journal.Entry{Direction: journal.Out, Channel: order.ChannelMail, Payload: out}); err != nil {
		return saf.Retry, fmt.Errorf("paylinks: journal: %w", err)
	}
	sendErr := s.d.Mail.Send(ctx, msg)
	result := map[string]any{"kind": "invoice", "code": l.Code, "merchant": l.Merchant, "outcome": "sent"}
	outcome := saf.Delivered
	if sendErr != nil {
		outcome, result["outcome"], result["error"] = saf.Retry, "failed", sendErr.Error()
	}
	in, _ := json.Marshal(result)
	if _, err := s.d.Journal.Append(ctx, journal.Entry{Direction: journal.In, Channel: order.ChannelMail, Payload: in}); err != nil && outcome == saf.Delivered {
		outcome, sendErr = saf.Retry, fmt.Errorf("paylinks: journal: %w", err)
	}
	if sendErr != nil {
		s.d.Log.Warn().Err(sendErr).Str("link", l.Code).Int("attempt", it.Attempts).Msg("invoice not sent; the queue retries")
		return outcome, sendErr
	}
	s.d.Log.Info().Str("link", l.Code).Str("merchant", l.Merchant).Msg("invoice sent")
	return outcome, nil
}

// InvoiceMail is the invoice's message to its buyer, in its language:
// the amount, description, deadline and link in the body, the link's QR
// code attached as PNG.
func (s *Service) InvoiceMail(l *Link) (mailer.Message, error) {
	t := texts[language(l.Language)]
	shop, _ := s.d.Shops(l.Merchant)
	if shop.Name == "" {
		shop.Name = l.Merchant
	}
	link := s.URL(l.Code)
	png, err := qrcode.PNG(link)
	if err != nil {
		return mailer.Message{}, err
	}
	what := l.Description
	if what == "" {
		what = l.Code
	}
	var payBy string
	if !l.ExpiresAt.IsZero() {
		payBy = t.PayBy + ": " + l.ExpiresAt.In(almaty).Format("02.01.2006 15:04") + "\n"
	}
	greet := ""
	if l.Name != "" {
		greet = l.Name + ",\n"
	}
	body := greet + fmt.Sprintf(t.MailBody, shop.Name, l.Description, formatAmount(l.Amount, l.Currency), payBy, link) + "\n\n" + t.MailFooter + "\n"
	return mailer.Message{
		To:          []string{l.Email},
		Subject:     fmt.Sprintf(t.MailSubject, shop.Name, strings.TrimSpace(what)),
		Text:        body,
		Attachments: []mailer.Attachment{{Name: "invoice-" + l.Code + ".png", ContentType: "image/png", Data: png}},
	}, nil
}
