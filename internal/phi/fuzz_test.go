package phi_test

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/telehealth/sessions/internal/phi"
)

// maskSeeds are inputs every masker is seeded with.
var maskSeeds = []string{
	"", "a", "ab", "abc", "john.doe@example.com", "@", "a@", "@b", "x***y@d.io",
	"John Michael Doe", "O'Brien-González", " - -- ", "Ünïcødé 名前 😀",
	"+1 (555) 123-4567", "555", "١٢٣٤٥٦٧٨", "Patient ID: 12345, room 12",
	"https://zoom.us/j/123?pwd=secret&zak=tok#frag", "mailto:a@b.c",
	"https://user:pass@host/p?x&y=1", "http://[::1", "\xff\xfe", "%zz",
}

// FuzzMaskEmail checks that a masked address shows at most the first and last
// characters of its local part, and its domain.
func FuzzMaskEmail(f *testing.F) {
	for _, s := range maskSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, email string) {
		out := phi.MaskEmail(email)
		at := strings.LastIndex(email, "@")
		switch {
		case email == "":
			if out != "" {
				t.Fatalf("MaskEmail(%q) = %q, want empty", email, out)
			}
		case at < 0:
			if out != "***" {
				t.Fatalf("MaskEmail(%q) = %q, want ***", email, out)
			}
		default:
			local, ok := strings.CutSuffix(out, email[at:])
			if !ok || !maskedID(local) {
				t.Fatalf("MaskEmail(%q) = %q: local part not masked", email, out)
			}
		}
	})
}

// FuzzMaskName checks that every piece of a masked name is at most one character and
// the stars.
func FuzzMaskName(f *testing.F) {
	for _, s := range maskSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		out := phi.MaskName(name)
		for _, part := range strings.Fields(out) {
			for _, piece := range strings.Split(part, "-") {
				if piece == "" || piece == "***" {
					continue
				}
				_, n := utf8.DecodeRuneInString(piece)
				if piece[n:] != "***" {
					t.Fatalf("MaskName(%q) = %q: piece %q shows more than a letter",
						name, out, piece)
				}
			}
		}
	})
}

var maskedPhone = regexp.MustCompile(`^(|\*\*\*|\*\*\*-\*\*\*-[0-9]{4})$`)

// FuzzMaskPhone checks that a masked number shows at most its last four digits.
func FuzzMaskPhone(f *testing.F) {
	for _, s := range maskSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, phone string) {
		out := phi.MaskPhone(phone)
		if !maskedPhone.MatchString(out) {
			t.Fatalf("MaskPhone(%q) = %q: not a masked number", phone, out)
		}
		if last, ok := strings.CutPrefix(out, "***-***-"); ok &&
			!strings.HasSuffix(asciiDigits(phone), last) {
			t.Fatalf("MaskPhone(%q) = %q: not its last four digits", phone, out)
		}
	})
}

var digitRun = regexp.MustCompile(`\p{Nd}{3,}`)

// FuzzMaskDigitRuns checks that no run of three digits survives.
func FuzzMaskDigitRuns(f *testing.F) {
	for _, s := range maskSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if out := phi.MaskDigitRuns(text); digitRun.MatchString(out) {
			t.Fatalf("MaskDigitRuns(%q) = %q: a digit run survives", text, out)
		}
	})
}

// FuzzMaskText checks that free text leaves nothing but its length.
func FuzzMaskText(f *testing.F) {
	for _, s := range maskSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		out := phi.MaskText(text)
		want := "[redacted: " + strconv.Itoa(utf8.RuneCountInString(text)) + " chars]"
		if text == "" {
			want = ""
		}
		if out != want {
			t.Fatalf("MaskText(%q) = %q, want %q", text, out, want)
		}
	})
}

// FuzzRedactURL checks that a redacted link keeps no query value, fragment or user
// info.
func FuzzRedactURL(f *testing.F) {
	for _, s := range maskSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		out := phi.RedactURL(raw)
		if out == "***" {
			return
		}
		u, err := url.Parse(out)
		if err != nil {
			t.Fatalf("RedactURL(%q) = %q, which does not parse: %v", raw, out, err)
		}
		if u.User != nil {
			t.Fatalf("RedactURL(%q) = %q keeps user info", raw, out)
		}
		if u.Fragment != "" && u.Fragment != "***" {
			t.Fatalf("RedactURL(%q) = %q keeps a fragment", raw, out)
		}
		if u.Opaque != "" && u.Opaque != "***" {
			t.Fatalf("RedactURL(%q) = %q keeps an opaque body", raw, out)
		}
		for item := range strings.SplitSeq(u.RawQuery, "&") {
			_, v, ok := strings.Cut(item, "=")
			if (ok && v != "***") || (!ok && item != "" && item != "***") {
				t.Fatalf("RedactURL(%q) = %q keeps query item %q", raw, out, item)
			}
		}
	})
}

// maskedID reports whether s is what MaskID makes: *** or one character, ***, one
// character.
func maskedID(s string) bool {
	if s == "***" {
		return true
	}
	_, n := utf8.DecodeRuneInString(s)
	_, m := utf8.DecodeLastRuneInString(s)
	return len(s) == n+3+m && s[n:len(s)-m] == "***"
}

func asciiDigits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
