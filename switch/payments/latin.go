package payments

import "strings"

// latin transliterates Russian and Kazakh Cyrillic letters for the ISO
// fields that must be ASCII (DE43), after the common passport-style tables.
var latin = map[rune]string{
	'а': "a", 'ә': "a", 'б': "b", 'в': "v", 'г': "g", 'ғ': "g", 'д': "d", 'е': "e", 'ё': "e",
	'ж': "zh", 'з': "z", 'и': "i", 'й': "i", 'к': "k", 'қ': "q", 'л': "l", 'м': "m", 'н': "n",
	'ң': "n", 'о': "o", 'ө': "o", 'п': "p", 'р': "r", 'с': "s", 'т': "t", 'у': "u", 'ұ': "u",
	'ү': "u", 'ф': "f", 'х': "kh", 'һ': "h", 'ц': "ts", 'ч': "ch", 'ш': "sh", 'щ': "shch",
	'ъ': "", 'ы': "y", 'і': "i", 'ь': "", 'э': "e", 'ю': "iu", 'я': "ia",
}

// toLatin returns s with Cyrillic transliterated and any other non-ASCII
// or control character replaced by '?'.
func toLatin(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		default:
			lower := []rune(strings.ToLower(string(r)))[0]
			t, ok := latin[lower]
			if !ok {
				b.WriteByte('?')
				continue
			}
			if lower != r && t != "" {
				t = strings.ToUpper(t[:1]) + t[1:]
			}
			b.WriteString(t)
		}
	}
	return b.String()
}
