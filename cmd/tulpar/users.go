package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/tulpar-switch/tulpar/switch/daemon"
	"github.com/tulpar-switch/tulpar/switch/users"
)

// usersStdin is where --password-stdin reads; tests replace it.
var usersStdin io.Reader = os.Stdin

var usersCommands = []subcommand{
	{"add", "create a cabinet user (a merchant's, read-only, or an operator); prints its temporary password", usersAdd},
	{"list", "print every cabinet user: role, merchant, lock, last sign-in", usersList},
	{"unlock", "lift the lock after wrong passwords", usersUnlock},
	{"reset-password", "give a user a new temporary password, to change at the next sign-in", usersReset},
	{"disable", "disable an account and end its sessions", usersDisable},
	{"enable", "enable a disabled account", usersEnable},
}

func runUsers(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runGroup(ctx, "users", `
Users of the merchant cabinet (cabinet_listen in the config): a merchant's users
see and act on that merchant's orders (role merchant) or only see them (viewer);
operators see every merchant and manage users in the cabinet too. These commands
change the switch's data file, so they run while no switch holds it; with the
switch running, an operator does the same in the cabinet (Users).`, usersCommands, args, stdout, stderr)
}

// usersFlags are the flags every users command takes.
type usersFlags struct {
	data, config string
	lock         time.Duration
	cfg          *daemon.Config
}

func (u *usersFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&u.data, "data", "", "the switch's data directory (or take data_dir from --config)")
	fs.StringVar(&u.config, "config", "", "the switch's config file: its data_dir, merchants and cabinet settings")
	fs.DurationVar(&u.lock, "lock-timeout", time.Second, "how long to wait for the data file before deciding a switch holds it")
}

// run opens the data file and runs fn on its users; it prints errors and
// returns the exit code.
func (u *usersFlags) run(name string, stderr io.Writer, fn func(*users.Store) error) int {
	var ucfg users.Config
	if u.config != "" {
		cfg, err := daemon.LoadConfig(u.config)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitFail
		}
		u.cfg, ucfg = &cfg, cfg.Cabinet.Users
		if u.data == "" {
			u.data = cfg.DataDir
		}
	}
	if u.data == "" {
		fmt.Fprintf(stderr, "tulpar users %s: --data or --config is required\n", name)
		return exitUsage
	}
	if err := users.WithDataFile(u.data, u.lock, ucfg, fn); err != nil {
		fmt.Fprintf(stderr, "tulpar users %s: %v\n", name, err)
		if errors.Is(err, users.ErrInput) || errors.Is(err, users.ErrWeakPassword) {
			return exitUsage
		}
		return exitFail
	}
	return exitOK
}

func usersAdd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var uf usersFlags
	fs := newFlagSet("users add", "--data DIR | --config FILE --login LOGIN --role merchant|viewer|operator [--merchant ID]", `
Creates a cabinet user and prints its password: a temporary one, made up, that
the user must change at the first sign-in (or, with --password-stdin, the first
line of stdin). With --config the merchant must be one of the config's.`, stderr)
	uf.register(fs)
	login := fs.String("login", "", "the user's login: 3 to 64 of a-z 0-9 . _ - @ (an e-mail address does)")
	role := fs.String("role", "merchant", "merchant (sees and acts on its merchant's orders), viewer (only sees them) or operator (every merchant)")
	merchant := fs.String("merchant", "", "the merchant id (payments.merchants[].id) a merchant's user belongs to")
	email := fs.String("email", "", "the user's e-mail, for restoring access")
	lang := fs.String("language", "ru", "the cabinet's language for the user: kk, ru or en")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of stdin instead of making up a temporary one")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	n := users.NewUser{Login: *login, Role: users.Role(*role), Merchant: *merchant, Email: *email, Language: *lang}
	if *fromStdin {
		line, err := bufio.NewReader(usersStdin).ReadString('\n')
		if err != nil && line == "" {
			fmt.Fprintln(stderr, "tulpar users add: no password on stdin")
			return exitUsage
		}
		n.Password = strings.TrimRight(line, "\r\n")
	}
	var pw string
	code := uf.run("add", stderr, func(s *users.Store) error {
		if uf.cfg != nil && n.Merchant != "" && !hasMerchant(uf.cfg, n.Merchant) {
			return fmt.Errorf("%w: merchant %q is not in %s", users.ErrInput, n.Merchant, uf.config)
		}
		var err error
		pw, err = s.Create(ctx, n, "cli")
		return err
	})
	if code != exitOK {
		return code
	}
	fmt.Fprintf(stdout, "created %s (%s", users.NormLogin(n.Login), n.Role)
	if n.Merchant != "" {
		fmt.Fprintf(stdout, " of %s", n.Merchant)
	}
	fmt.Fprintln(stdout, ")")
	if !*fromStdin {
		fmt.Fprintf(stdout, "temporary password: %s\n(the user changes it at the first sign-in)\n", pw)
	}
	return exitOK
}

func hasMerchant(cfg *daemon.Config, id string) bool {
	for _, m := range cfg.Payments.Merchants {
		if m.ID == id {
			return true
		}
	}
	return false
}

func usersList(_ context.Context, args []string, stdout, stderr io.Writer) int {
	var uf usersFlags
	fs := newFlagSet("users list", "--data DIR | --config FILE", "Prints every cabinet user.", stderr)
	uf.register(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	return uf.run("list", stderr, func(s *users.Store) error {
		list, err := s.List()
		if err == nil {
			users.WriteList(stdout, list, time.Now())
		}
		return err
	})
}

// oneUser is the shape of the commands that act on one login.
func oneUser(name, about string, args []string, stderr io.Writer, fn func(s *users.Store, login string) error) int {
	var uf usersFlags
	fs := newFlagSet("users "+name, "--data DIR | --config FILE --login LOGIN", about, stderr)
	uf.register(fs)
	login := fs.String("login", "", "the user's login")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *login == "" {
		fmt.Fprintf(stderr, "tulpar users %s: --login is required\n", name)
		return exitUsage
	}
	return uf.run(name, stderr, func(s *users.Store) error { return fn(s, *login) })
}

func usersUnlock(_ context.Context, args []string, stdout, stderr io.Writer) int {
	return oneUser("unlock", "Lifts the lock wrong passwords put on an account.", args, stderr, func(s *users.Store, login string) error {
		if err := s.Unlock(login, "cli"); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s unlocked\n", users.NormLogin(login))
		return nil
	})
}

func usersReset(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return oneUser("reset-password", "Gives the user a new temporary password (printed), unlocks the account and ends its sessions.", args, stderr,
		func(s *users.Store, login string) error {
			pw, err := s.ResetPassword(ctx, login, "cli")
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "temporary password of %s: %s\n(the user changes it at the next sign-in)\n", users.NormLogin(login), pw)
			return nil
		})
}

func usersDisable(_ context.Context, args []string, stdout, stderr io.Writer) int {
	return oneUser("disable", "Disables an account and ends its sessions.", args, stderr, func(s *users.Store, login string) error {
		if err := s.SetDisabled(login, true, "cli"); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s disabled\n", users.NormLogin(login))
		return nil
	})
}

func usersEnable(_ context.Context, args []string, stdout, stderr io.Writer) int {
	return oneUser("enable", "Enables a disabled account.", args, stderr, func(s *users.Store, login string) error {
		if err := s.SetDisabled(login, false, "cli"); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s enabled\n", users.NormLogin(login))
		return nil
	})
}
