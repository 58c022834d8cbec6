package iso

import "testing"

// An e-commerce 0100 with 3-D Secure data and its approved 0110: the two
// messages every authorization packs and unpacks once on each side.
func BenchmarkPack(b *testing.B) {
	for _, d := range []string{"ascii", "binary"} {
		c, err := LoadCodec(d)
		if err != nil {
			b.Fatal(err)
		}
		for _, name := range []string{"0100", "0110"} {
			m := samples()[name]
			b.Run(d+"/"+name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := c.Pack(m); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkUnpack(b *testing.B) {
	for _, d := range []string{"ascii", "binary"} {
		c, err := LoadCodec(d)
		if err != nil {
			b.Fatal(err)
		}
		for _, name := range []string{"0100", "0110"} {
			body, err := c.Pack(samples()[name])
			if err != nil {
				b.Fatal(err)
			}
			b.Run(d+"/"+name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := c.Unpack(body); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
