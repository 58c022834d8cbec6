package compact

// The switch's ids (orders, operations) are UUIDv7 written as 36
// characters of lower-case text. Where many of them are stored (journal
// entries, index keys) they are kept as their 16 bytes: PackUUID says
// whether an id is one that packs, AppendUUIDText gives its text back.

// PackUUID returns the 16 bytes of id when id is a UUID in the switch's
// own text form: 36 characters, hyphens at 8, 13, 18 and 23, lower-case
// hex elsewhere, so that AppendUUIDText gives back the very same string.
// Any other id (upper-case hex included) does not pack.
func PackUUID[T string | []byte](id T) (out [16]byte, ok bool) {
	if len(id) != 36 {
		return out, false
	}
	n := 0
	for i := 0; i < 36; {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if id[i] != '-' {
				return out, false
			}
			i++
			continue
		}
		hi, ok1 := lowerHex(id[i])
		lo, ok2 := lowerHex(id[i+1])
		if !ok1 || !ok2 {
			return out, false
		}
		out[n] = hi<<4 | lo
		n++
		i += 2
	}
	return out, true
}

func lowerHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// AppendUUIDText appends the text form of a packed UUID (16 bytes) to dst.
func AppendUUIDText(dst []byte, b []byte) []byte {
	const hexDigits = "0123456789abcdef"
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return dst
}
