package hpp

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/tulpar-switch/tulpar/switch/throttle"
)

// Config is the hosted page's section of the daemon's config file.
type Config struct {
	// PublicURL is the switch's base URL as buyers' browsers reach it,
	// e.g. "https://pay.example.kz". The 3-D Secure notification URL the
	// ACS sends the browser back to is built from it, and https makes the
	// CSRF cookie Secure. Required; absolute http or https, with no path
	// (the page's links are root-relative: mount Handler at the root),
	// query or fragment.
	PublicURL string `yaml:"public_url"`
	// Secret keys the CSRF tokens (HMAC-SHA256). Empty: a random key per
	// process, which is enough for the demo but makes forms opened before
	// a restart fail with "page expired". At least 16 bytes when set; keep
	// it the same on every instance behind one load balancer.
	Secret string `yaml:"secret"`
	// Title is the name shown in the page header and the browser's title.
	// Default "Tulpar".
	Title string `yaml:"title"`
	// CardAttempts bounds the cards one client network (an IPv4 address,
	// an IPv6 /64) may send to the bank, over all orders: the brake on
	// card testing (bots trying stolen numbers through a shop's checkout,
	// each attempt an authorization at the bank). Past it the buyer is
	// told to wait, with how long. Default 20 a minute, 10 at once: buyers
	// behind one carrier NAT share an address.
	CardAttempts throttle.Config `yaml:"card_attempts"`
}

// DefaultConfig returns the defaults; PublicURL must still be set.
func DefaultConfig() Config {
	return Config{Title: "Tulpar", CardAttempts: throttle.Config{PerMinute: 20, Burst: 10}}
}

// MinSecret is the shortest Secret accepted.
const MinSecret = 16

// Validate checks the config; every problem names its key.
func (c Config) Validate() error {
	var errs []error
	if c.PublicURL == "" {
		errs = append(errs, errors.New("hpp: public_url: required"))
	} else if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil || strings.Trim(u.Path, "/") != "" {
		errs = append(errs, fmt.Errorf("hpp: public_url %q: want an absolute http or https URL without path, query or fragment", c.PublicURL))
	}
	if c.Secret != "" && len(c.Secret) < MinSecret {
		errs = append(errs, fmt.Errorf("hpp: secret: want at least %d bytes (or leave it empty for a random one)", MinSecret))
	}
	if len(c.Title) > 100 {
		errs = append(errs, errors.New("hpp: title: at most 100 bytes"))
	}
	if err := c.CardAttempts.Validate("card_attempts"); err != nil {
		errs = append(errs, fmt.Errorf("hpp: %w", err))
	}
	return errors.Join(errs...)
}

func (c Config) base() string { return strings.TrimRight(c.PublicURL, "/") }
