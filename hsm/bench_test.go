package hsm

import (
	"context"
	"testing"
)

// isoMessage is a typical 0200 of about 300 bytes: what a link MACs per
// message.
var isoMessage = func() []byte {
	b := make([]byte, 300)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}()

func BenchmarkGenerateMAC(b *testing.B) {
	ctx := context.Background()
	m := MustEphemeral(b)
	for _, alg := range Algorithms(KeyMAC) {
		if _, err := m.Store().Create(string(alg), KeyMAC, alg); err != nil {
			b.Fatal(err)
		}
		b.Run(string(alg), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(isoMessage)))
			for b.Loop() {
				if _, err := m.GenerateMAC(ctx, string(alg), isoMessage); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerifyMAC(b *testing.B) {
	ctx := context.Background()
	m := MustEphemeral(b)
	for _, alg := range []Algorithm{AlgRetailMAC, AlgCMAC128} {
		if _, err := m.Store().Create(string(alg), KeyMAC, alg); err != nil {
			b.Fatal(err)
		}
		mac, _ := m.GenerateMAC(ctx, string(alg), isoMessage)
		b.Run(string(alg), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := m.VerifyMAC(ctx, string(alg), isoMessage, mac); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncryptPAN(b *testing.B) {
	ctx := context.Background()
	m := MustEphemeral(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.EncryptPAN(ctx, "4111111111111111"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecryptPAN(b *testing.B) {
	ctx := context.Background()
	m := MustEphemeral(b)
	ct, err := m.EncryptPAN(ctx, "4111111111111111")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.DecryptPAN(ctx, ct); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTokenizePAN(b *testing.B) {
	ctx := context.Background()
	m := MustEphemeral(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.TokenizePAN(ctx, "4111111111111111"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyCVV(b *testing.B) {
	ctx := context.Background()
	m := MustEphemeral(b)
	h, err := m.HashCVV(ctx, "4111111111111111", "2812", "917")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := m.VerifyCVV(ctx, "4111111111111111", "2812", "917", h); err != nil {
			b.Fatal(err)
		}
	}
}

// Parallel, as the switch calls it: many links and payments at once share
// one module, so the key store's lock must not serialise them.
func BenchmarkEncryptPANParallel(b *testing.B) {
	ctx := context.Background()
	m := MustEphemeral(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := m.EncryptPAN(ctx, "4111111111111111"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
