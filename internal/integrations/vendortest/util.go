package vendortest

import "strconv"

func itoa(i int) string { return strconv.Itoa(i) }

func pad2(n int) string {
	s := strconv.Itoa(n % 100)
	if len(s) == 1 {
		s = "0" + s
	}
	return s
}
