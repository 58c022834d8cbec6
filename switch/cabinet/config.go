package cabinet

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/tulpar-switch/tulpar/switch/users"
)

// Config is the cabinet section of the daemon's config file. The listener
// itself is the daemon's cabinet_listen.
type Config struct {
	// PublicURL is the cabinet's base URL as users' browsers reach it,
	// e.g. "https://cabinet.example.kz": https makes its cookies Secure
	// (and __Host- prefixed). Default http://<cabinet_listen>, fit for a
	// loopback or a TLS-terminating proxy on the same host only.
	PublicURL string `yaml:"public_url"`
	// Title is the name in the header. Default "Tulpar".
	Title string `yaml:"title"`
	// TimeZone is the operators' time zone (a merchant's users see their
	// merchant's). Default Asia/Almaty.
	TimeZone string `yaml:"time_zone"`
	// Users tunes the lock after wrong passwords and the sessions.
	Users users.Config `yaml:"users"`
}

// Validate checks the config; errors name the key.
func (c Config) Validate() error {
	var errs []error
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			u.RawQuery != "" || u.Fragment != "" || strings.Trim(u.Path, "/") != "" {
			errs = append(errs, fmt.Errorf("cabinet: public_url %q: want an absolute http or https URL without path, query or fragment", c.PublicURL))
		}
	}
	if len(c.Title) > 100 {
		errs = append(errs, errors.New("cabinet: title: at most 100 bytes"))
	}
	if c.TimeZone != "" {
		if _, err := time.LoadLocation(c.TimeZone); err != nil {
			errs = append(errs, fmt.Errorf("cabinet: time_zone: %w", err))
		}
	}
	if err := c.Users.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("cabinet: users: %w", err))
	}
	return errors.Join(errs...)
}
