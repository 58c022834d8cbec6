package links

import (
	"context"
	"errors"
	"fmt"
)

// Set holds every configured link by name: what routing asks about
// readiness, what payments sends through, what operators list.
type Set struct {
	names []string
	links map[string]*Link
}

// NewSet builds one link per config, in order. Names must be unique;
// every config's errors are reported together.
func NewSet(cfgs []Config, deps Deps) (*Set, error) {
	s := &Set{links: make(map[string]*Link, len(cfgs))}
	var errs []error
	for i, cfg := range cfgs {
		if _, dup := s.links[cfg.Name]; dup {
			errs = append(errs, fmt.Errorf("links[%d]: bank %q: name: duplicate", i, cfg.Name))
			continue
		}
		l, err := New(cfg, deps)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.names = append(s.names, cfg.Name)
		s.links[cfg.Name] = l
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// Start starts every link; on error the links already started are closed.
func (s *Set) Start(ctx context.Context) error {
	for i, n := range s.names {
		if err := s.links[n].Start(ctx); err != nil {
			for _, m := range s.names[:i] {
				s.links[m].Close(ctx)
			}
			return err
		}
	}
	return nil
}

// Names lists the links in config order.
func (s *Set) Names() []string { return append([]string(nil), s.names...) }

// Get returns the named link, or nil.
func (s *Set) Get(name string) *Link { return s.links[name] }

// Ready reports whether the named link can carry a request now (false for
// an unknown name): routing's health check.
func (s *Set) Ready(name string) bool {
	l := s.links[name]
	return l != nil && l.Ready()
}

// Statuses returns every link's status in config order.
func (s *Set) Statuses() []Status {
	out := make([]Status, 0, len(s.names))
	for _, n := range s.names {
		out = append(out, s.links[n].Status())
	}
	return out
}

// Close closes every link concurrently (each signs off) within ctx.
func (s *Set) Close(ctx context.Context) error {
	errs := make(chan error, len(s.names))
	for _, n := range s.names {
		go func() { errs <- s.links[n].Close(ctx) }()
	}
	var all []error
	for range s.names {
		all = append(all, <-errs)
	}
	return errors.Join(all...)
}
