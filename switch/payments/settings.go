package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tulpar-switch/tulpar/switch/journal"
	"github.com/tulpar-switch/tulpar/switch/order"
)

// Settings are what a merchant changes about its integration itself, in
// the merchant cabinet, over what the config file says.
type Settings struct {
	// CallbackURL, when set, is where the merchant's callbacks go instead
	// of the configured URL (signed with the configured secret, if any).
	CallbackURL string `json:"callback_url,omitempty"`
	// ReturnHosts, when set, are the only hosts an order's return and fail
	// URLs may name: "shop.kz", or "*.shop.kz" for its subdomains. Empty:
	// any host.
	ReturnHosts []string  `json:"return_hosts,omitempty"`
	UpdatedAt   time.Time `json:"updated_at,omitzero"`
	// UpdatedBy names who changed them last (a cabinet user).
	UpdatedBy string `json:"updated_by,omitempty"`
}

// MaxReturnHosts bounds Settings.ReturnHosts.
const MaxReturnHosts = 20

// settingsRecord is the journal payload of a change of settings.
type settingsRecord struct {
	Merchant string   `json:"merchant"`
	Settings Settings `json:"settings"`
}

// bucketSettings holds each merchant's Settings: merchant id → JSON. Every
// change is journaled (order.ChannelSettings) in the same transaction.
var bucketSettings = []byte("merchant_settings")

// settingsCache keeps the settings in memory: Register reads them for every
// order and the callback sender from inside the journal's transactions,
// where no other transaction may be opened.
type settingsCache struct {
	mu sync.RWMutex
	m  map[string]Settings
}

func (c *settingsCache) load(db journal.Transactor) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m = map[string]Settings{}
	return db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSettings)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var s Settings
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("merchant %s: %w", k, err)
			}
			c.m[string(k)] = s
			return nil
		})
	})
}

// Settings returns merchant's settings (zero when never changed).
func (s *Service) Settings(merchant string) Settings {
	s.settings.mu.RLock()
	defer s.settings.mu.RUnlock()
	v := s.settings.m[merchant]
	v.ReturnHosts = append([]string(nil), v.ReturnHosts...)
	return v
}

// CallbackURL is the callback URL merchant set in the cabinet, or "". It
// never blocks on the disk: the callback sender calls it inside commits.
func (s *Service) CallbackURL(merchant string) string {
	s.settings.mu.RLock()
	defer s.settings.mu.RUnlock()
	return s.settings.m[merchant].CallbackURL
}

// ErrSettings is wrapped when settings are not acceptable; the message
// names the field.
var ErrSettings = errors.New("invalid settings")

// SetSettings validates and stores merchant's settings, journaled with who
// changed them. Hosts are kept lower-case, each once.
func (s *Service) SetSettings(ctx context.Context, merchant string, v Settings, by string) (Settings, error) {
	if _, ok := s.merchants[merchant]; !ok {
		return Settings{}, &order.InputError{Field: "merchant", Reason: "unknown merchant"}
	}
	v.CallbackURL = strings.TrimSpace(v.CallbackURL)
	if v.CallbackURL != "" {
		u, err := url.Parse(v.CallbackURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || len(v.CallbackURL) > 512 {
			return Settings{}, fmt.Errorf("%w: callback_url: want an absolute http or https URL", ErrSettings)
		}
	}
	var hosts []string
	for _, h := range v.ReturnHosts {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "" {
			continue
		}
		if !validHostPattern(h) {
			return Settings{}, fmt.Errorf("%w: return_hosts: %q is not a host name (shop.kz, or *.shop.kz for its subdomains)", ErrSettings, h)
		}
		if !contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	if len(hosts) > MaxReturnHosts {
		return Settings{}, fmt.Errorf("%w: return_hosts: at most %d", ErrSettings, MaxReturnHosts)
	}
	v.ReturnHosts, v.UpdatedAt, v.UpdatedBy = hosts, s.d.Now().UTC(), by
	data, err := json.Marshal(v)
	if err != nil {
		return Settings{}, err
	}
	rec, _ := json.Marshal(settingsRecord{Merchant: merchant, Settings: v})
	_, err = s.d.Journal.AppendTx(detach(ctx), []journal.Entry{{Direction: journal.Internal, Channel: order.ChannelSettings, Payload: rec}},
		func(tx *bolt.Tx, _ []uint64) error {
			b, err := tx.CreateBucketIfNotExists(bucketSettings)
			if err != nil {
				return err
			}
			return b.Put([]byte(merchant), data)
		})
	if err != nil {
		return Settings{}, fmt.Errorf("payments: settings of %s: %w", merchant, storageErr(err))
	}
	s.settings.mu.Lock()
	s.settings.m[merchant] = v
	s.settings.mu.Unlock()
	return s.Settings(merchant), nil
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func validHostPattern(h string) bool {
	h = strings.TrimPrefix(h, "*.")
	if h == "" || len(h) > 253 || strings.HasPrefix(h, ".") || strings.HasSuffix(h, ".") || strings.Contains(h, "..") {
		return false
	}
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// hostAllowed says whether raw (a return or fail URL) names a host the
// patterns allow; with no patterns every host is.
func hostAllowed(patterns []string, raw string) bool {
	if len(patterns) == 0 || raw == "" {
		return true
	}
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	host := strings.ToLower(u.Hostname())
	for _, p := range patterns {
		if rest, ok := strings.CutPrefix(p, "*."); ok {
			if strings.HasSuffix(host, "."+rest) {
				return true
			}
		} else if host == p {
			return true
		}
	}
	return false
}
