package phi

import (
	"bytes"
	"strings"
	"unicode"
)

// Leak is one PHI value found in clear where it must not be.
type Leak struct {
	Where string // the scanned source, e.g. "log line 12"
	Value string // which needle matched (a label, not the value)
}

// Scanner looks for known PHI values in clear in logs, messages and histories. It
// matches each value as given and in the forms a leak takes: lower case, and for a
// phone number its digits alone.
type Scanner struct {
	needles map[string]string // needle: label
}

// NewScanner returns a scanner for a patient's values: each name part of at least three
// letters, the whole name, the email and its local part, the phone's digits, and the
// notes and each of their words of at least eight letters.
func NewScanner(name Name, email Email, phone Phone, notes Text) *Scanner {
	s := &Scanner{needles: map[string]string{}}
	add := func(v, label string) {
		if v = strings.TrimSpace(v); v != "" {
			s.needles[v] = label
			s.needles[strings.ToLower(v)] = label
		}
	}
	add(string(name), "patient name")
	for _, part := range strings.Fields(string(name)) {
		if len([]rune(part)) >= 3 {
			add(part, "patient name part")
		}
	}
	add(string(email), "patient email")
	if local, _, ok := strings.Cut(string(email), "@"); ok && len(local) >= 3 {
		add(local, "patient email local part")
	}
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, string(phone))
	if len(digits) >= 7 {
		add(digits, "patient phone")
		add(digits[len(digits)-7:], "patient phone")
	}
	add(string(notes), "provider notes")
	for _, w := range strings.FieldsFunc(string(notes), func(r rune) bool {
		return !unicode.IsLetter(r)
	}) {
		if len([]rune(w)) >= 8 {
			add(w, "provider notes word")
		}
	}
	return s
}

// Scan reports every needle found in data, labelled with where.
func (s *Scanner) Scan(where string, data []byte) []Leak {
	var out []Leak
	seen := map[string]bool{}
	lower := bytes.ToLower(data)
	for needle, label := range s.needles {
		if seen[label] {
			continue
		}
		if bytes.Contains(data, []byte(needle)) || bytes.Contains(lower, []byte(needle)) {
			seen[label] = true
			out = append(out, Leak{Where: where, Value: label})
		}
	}
	return out
}
