package iso

// Luhn reports whether pan passes the Luhn (mod 10) check of ISO/IEC
// 7812-1. Anything but ASCII digits, or nothing at all, fails.
func Luhn(pan string) bool {
	if pan == "" {
		return false
	}
	sum := 0
	for i := 0; i < len(pan); i++ {
		c := pan[len(pan)-1-i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if i%2 == 1 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}
