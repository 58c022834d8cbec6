package users

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	berrors "go.etcd.io/bbolt/errors"

	"github.com/tulpar-switch/tulpar/switch/journal"
)

// ErrFileLocked: a running switch holds the data file.
var ErrFileLocked = errors.New("the data file is held by a running switch")

// WithDataFile opens the switch's data file in dir (the journal opens it,
// refusing a damaged one), runs fn on its users and closes it: what
// `tulpar users` does while no switch runs. bbolt's lock lets one process
// in, so with a switch running it fails after lockTimeout with
// ErrFileLocked: the operator then manages users in the cabinet.
func WithDataFile(dir string, lockTimeout time.Duration, cfg Config, fn func(*Store) error) error {
	path := filepath.Join(dir, journal.DataFile)
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("users: %s: %w (run the switch once, or give --data the switch's data directory)", path, err)
	}
	j, err := journal.Open(path, journal.Options{LockTimeout: lockTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return fmt.Errorf("users: %s: %w: stop it, or manage users in the cabinet as an operator", path, ErrFileLocked)
	}
	if err != nil {
		return err
	}
	s, err := New(j.DB(), cfg, nil)
	if err == nil {
		err = fn(s)
	}
	return errors.Join(err, j.Close())
}

// WriteList prints users as a table.
func WriteList(w io.Writer, list []User, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LOGIN\tROLE\tMERCHANT\tSTATE\tLAST SIGN-IN\tE-MAIL")
	for _, u := range list {
		state := "active"
		switch {
		case u.Disabled:
			state = "disabled"
		case u.LockedEverywhere(now):
			state = "locked until " + u.LockedUntil.UTC().Format(time.RFC3339)
		case u.Locked(now):
			state = "locked until " + u.LockedUntil.UTC().Format(time.RFC3339) + " except from its networks"
		case u.MustChange:
			state = "temporary password"
		}
		last := "never"
		if !u.LastSignIn.IsZero() {
			last = u.LastSignIn.UTC().Format(time.RFC3339)
		}
		merchant := u.Merchant
		if merchant == "" {
			merchant = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.Login, u.Role, merchant, state, last, u.Email)
	}
	tw.Flush()
}
