package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/tulpar-switch/tulpar/hsm"
	"github.com/tulpar-switch/tulpar/hsm/pkcs11"
)

// keyBackend is where `tulpar keys` keeps keys: a software key store file
// or a PKCS#11 token. Both answer in KeyInfo and never show a clear key.
type keyBackend interface {
	Create(ctx context.Context, id string, t hsm.KeyType, alg hsm.Algorithm) (hsm.KeyInfo, error)
	Rotate(ctx context.Context, id string) (hsm.KeyInfo, error)
	Keys(ctx context.Context) ([]hsm.KeyInfo, error)
	Key(ctx context.Context, id string) (hsm.KeyInfo, error)
	KeyVersion(ctx context.Context, id string, version uint32) (hsm.KeyInfo, error)
	ImportKey(ctx context.Context, req hsm.ImportRequest) (hsm.KeyInfo, error)
	ImportComponents(ctx context.Context, id string, t hsm.KeyType, alg hsm.Algorithm, components [][]byte, kcv string) (hsm.KeyInfo, error)
	// InitKeys creates the switch's role keys (dek, token, cvk) that are
	// missing and returns those it made.
	InitKeys(ctx context.Context) ([]hsm.KeyInfo, error)
	// Where names the store for the end of a listing.
	Where() string
	Close() error
}

// storeFlags are the flags of every command that opens the keys: a key
// store file (--store, the software module) or a PKCS#11 token
// (--pkcs11-module and --token).
type storeFlags struct {
	store, master, masterEnv string
	module, token, pinEnv    string
	allowHostUnwrap          bool
}

func (s *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.store, "store", "", "key store `file` (the software module)")
	fs.StringVar(&s.master, "master", "", "master key `file` (mode 0600); empty: use --master-env")
	fs.StringVar(&s.masterEnv, "master-env", hsm.DefaultMasterKeyEnv, "environment `variable` holding the master key when --master is empty")
	fs.StringVar(&s.module, "pkcs11-module", "", "PKCS#11 `library` of a token, instead of --store (e.g. /usr/lib/softhsm/libsofthsm2.so)")
	fs.StringVar(&s.token, "token", "", "`label` of the PKCS#11 token (with --pkcs11-module)")
	fs.StringVar(&s.pinEnv, "pin-env", hsm.DefaultPKCS11PINEnv, "environment `variable` holding the token's user PIN")
	fs.BoolVar(&s.allowHostUnwrap, "allow-host-unwrap", false, "PKCS#11: as hsm.pkcs11.allow_host_unwrap (needed for a TDES ZMK on SoftHSM2)")
}

// open opens the keys; with create, a missing key store file is created.
func (s *storeFlags) open(create bool, stderr io.Writer) (keyBackend, error) {
	switch {
	case s.store != "" && s.module != "":
		return nil, errors.New("--store and --pkcs11-module: give one")
	case s.module != "":
		if s.token == "" {
			return nil, errors.New("--token is required with --pkcs11-module")
		}
		cfg := hsm.DefaultConfig()
		cfg.Kind = hsm.KindPKCS11
		cfg.PKCS11 = hsm.PKCS11Config{Module: s.module, TokenLabel: s.token, PINEnv: s.pinEnv, Sessions: 1, AllowHostUnwrap: s.allowHostUnwrap}
		m, err := pkcs11.New(cfg)
		if err != nil {
			return nil, err
		}
		return tokenKeys{m, s.token}, nil
	case s.store == "":
		return nil, errors.New("--store (a key store file) or --pkcs11-module and --token (a PKCS#11 token) is required")
	}
	mk, err := hsm.LoadMasterKey(s.master, s.masterEnv)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(s.store); create && errors.Is(err, os.ErrNotExist) {
		ks, err := hsm.CreateKeyStore(s.store, mk)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(stderr, "created key store %s under master key KCV %s\n", s.store, mk.KCV())
		return softKeys{ks}, nil
	}
	ks, err := hsm.OpenKeyStore(s.store, mk)
	if err != nil {
		return nil, err
	}
	return softKeys{ks}, nil
}

// tokenKeys is a PKCS#11 token.
type tokenKeys struct {
	*pkcs11.Module
	label string
}

func (t tokenKeys) Where() string { return "PKCS#11 token " + t.label }

// softKeys is a key store file.
type softKeys struct{ ks *hsm.KeyStore }

func (s softKeys) Create(_ context.Context, id string, t hsm.KeyType, alg hsm.Algorithm) (hsm.KeyInfo, error) {
	return s.ks.Create(id, t, alg)
}

func (s softKeys) Rotate(_ context.Context, id string) (hsm.KeyInfo, error) { return s.ks.Rotate(id) }

func (s softKeys) Keys(context.Context) ([]hsm.KeyInfo, error) { return s.ks.Keys(), nil }

func (s softKeys) Key(_ context.Context, id string) (hsm.KeyInfo, error) { return s.ks.Key(id) }

func (s softKeys) KeyVersion(_ context.Context, id string, v uint32) (hsm.KeyInfo, error) {
	return s.ks.KeyVersion(id, v)
}

func (s softKeys) ImportKey(ctx context.Context, req hsm.ImportRequest) (hsm.KeyInfo, error) {
	m, err := hsm.NewSoft(s.ks, hsm.Config{})
	if err != nil {
		return hsm.KeyInfo{}, err
	}
	return m.ImportKey(ctx, req)
}

func (s softKeys) ImportComponents(_ context.Context, id string, t hsm.KeyType, alg hsm.Algorithm, components [][]byte, kcv string) (hsm.KeyInfo, error) {
	return s.ks.ImportComponents(id, t, alg, components, kcv)
}

func (s softKeys) InitKeys(context.Context) ([]hsm.KeyInfo, error) {
	var made []hsm.KeyInfo
	for _, r := range hsm.DefaultConfig().Roles() {
		if _, err := s.ks.Key(r.ID); err == nil {
			continue
		}
		info, err := s.ks.Create(r.ID, r.Type, "")
		if err != nil {
			return made, fmt.Errorf("%s: %w", r.Name, err)
		}
		made = append(made, info)
	}
	return made, nil
}

func (s softKeys) Where() string { return "master key KCV " + s.ks.MasterKCV() }

func (s softKeys) Close() error { return nil }
