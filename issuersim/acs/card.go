package acs

// mastercard reports whether pan is in Mastercard's ranges (51–55 and
// 2221–2720), whose ECIs differ from every other brand's.
func mastercard(pan string) bool {
	if len(pan) < 4 {
		return false
	}
	if pan[0] == '5' && pan[1] >= '1' && pan[1] <= '5' {
		return true
	}
	p4 := pan[:4]
	return p4 >= "2221" && p4 <= "2720"
}

// eciFor is the Electronic Commerce Indicator for a final transStatus:
// Visa-style 05/06/07 for every brand but Mastercard's 02/01/00.
func eciFor(mc bool, status string) string {
	switch status {
	case "Y":
		if mc {
			return "02"
		}
		return "05"
	case "A":
		if mc {
			return "01"
		}
		return "06"
	default:
		if mc {
			return "00"
		}
		return "07"
	}
}
