package phi_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/telehealth/sessions/internal/phi"
)

type maskCase struct {
	in, want string
}

func runMask(t *testing.T, mask func(string) string, cases []maskCase) {
	t.Helper()
	for _, c := range cases {
		got := mask(c.in)
		if got != c.want {
			t.Errorf("mask(%q) = %q, want %q", c.in, got, c.want)
		}
		if !utf8.ValidString(got) {
			t.Errorf("mask(%q) = %q is not valid UTF-8", c.in, got)
		}
	}
}

func TestMaskEmail(t *testing.T) {
	runMask(t, phi.MaskEmail, []maskCase{
		{"john.doe@example.com", "j***e@example.com"}, // spec example
		{"sarah.test@example.com", "s***t@example.com"},
		{"abc@x.io", "a***c@x.io"},
		{"ab@x.io", "***@x.io"},
		{"a@b.co", "***@b.co"},
		{"@example.com", "***@example.com"},
		{"john@", "j***n@"},
		{"josé@exämple.com", "j***é@exämple.com"},
		{"😀x😀@y.com", "😀***😀@y.com"},
		{"😀x@y.com", "***@y.com"},
		{"a@b@c.com", "a***b@c.com"}, // the domain follows the last @
		{"no-at-sign", "***"},
		{"", ""},
	})
}

func TestMaskName(t *testing.T) {
	runMask(t, phi.MaskName, []maskCase{
		{"John Michael Doe", "J*** M*** D***"}, // spec example
		{"María José O'Brien-González", "M*** J*** O***-G***"},
		{"  Madonna\t", "M***"},
		{"Ann\u00a0\u3000Lee", "A*** L***"},
		{"A", "***"},
		{"A B", "*** ***"},
		{"Jean--Paul", "J***--P***"},
		{"Zoë", "Z***"},
		{"😀nn", "😀***"},
		{"   ", ""},
		{"", ""},
	})
}

func TestMaskPhone(t *testing.T) {
	runMask(t, phi.MaskPhone, []maskCase{
		{"+15551234567", "***-***-4567"},
		{"+1 (555) 123-4567", "***-***-4567"},
		{"+81-90-1234-5678", "***-***-5678"},
		{"1234567", "***-***-4567"},
		{"123456", "***"},
		{"call me", "***"},
		{"", ""},
	})
}

func TestMaskID(t *testing.T) {
	runMask(t, phi.MaskID, []maskCase{
		{"12345", "1***5"}, // spec example
		{"123", "1***3"},
		{"12", "***"},
		{"1", "***"},
		{"MRN-0042", "M***2"},
		{"😀😀😀", "😀***😀"},
		{"", ""},
	})
}

func TestMaskDigitRuns(t *testing.T) {
	runMask(t, phi.MaskDigitRuns, []maskCase{
		{"Patient ID: 12345", "Patient ID: 1***5"}, // spec example
		{"MRN 987654 at 2 pm, room 12", "MRN 9***4 at 2 pm, room 12"},
		{"ids 123,4567", "ids 1***3,4***7"},
		{"٠١٢٣", "٠***٣"}, // Arabic-Indic digits are digits too
		{"no digits", "no digits"},
		{"", ""},
	})
}

func TestMaskText(t *testing.T) {
	runMask(t, phi.MaskText, []maskCase{
		{"Patient reports chest pain.", "[redacted: 27 chars]"},
		{"日本語", "[redacted: 3 chars]"},
		{"😀", "[redacted: 1 chars]"},
		{"", ""},
	})
}

func TestRedactURL(t *testing.T) {
	runMask(t, phi.RedactURL, []maskCase{
		{
			"https://us02web.zoom.us/s/8512345678?zak=eyJ0eXAi.abc&pwd=Xy12",
			"https://us02web.zoom.us/s/8512345678?zak=***&pwd=***",
		},
		{"https://zoom.us/j/123#frag", "https://zoom.us/j/123#***"},
		{"https://user:secret@host.example/p?token", "https://host.example/p?***"},
		{"https://host.example/p?a=&b=2", "https://host.example/p?a=***&b=***"},
		{"mailto:john.doe@example.com", "mailto:***"},
		{"https://host.example/path", "https://host.example/path"},
		{
			"https://api.clinic.example/sessions/SESSION-1-abc/launch/k1.OVTooyQ",
			"https://api.clinic.example/sessions/SESSION-1-abc/launch/***",
		},
		{"https://[::1", "***"},
		{"http://host/\x7f", "***"},
		{"", ""},
	})
}

// TestMasksHideWhole checks, over many inputs, that no mask shows a value whole when
// it has three or more characters.
func TestMasksHideWhole(t *testing.T) {
	locals := []string{
		"abc", "john.doe", "ab", "a", "josé", "😀😀😀", "李小龍", "rachel.test+tele",
		"x_y", "O'Neil", "123",
	}
	for _, local := range locals {
		email := local + "@example.com"
		got := phi.MaskEmail(email)
		maskedLocal := got[:strings.LastIndex(got, "@")]
		if strings.Contains(maskedLocal, local) {
			t.Errorf("MaskEmail(%q) = %q shows the local part", email, got)
		}
	}

	names := []string{
		"Ann", "Al", "John Michael Doe", "María José O'Brien-González", "李小龍",
		"😀😀😀", "Jo Jo", "Ed", "Bo-Li",
	}
	for _, name := range names {
		got := phi.MaskName(name)
		for _, part := range strings.FieldsFunc(name, isSep) {
			if utf8.RuneCountInString(part) >= 2 && strings.Contains(got, part) {
				t.Errorf("MaskName(%q) = %q shows %q", name, got, part)
			}
		}
	}

	for _, id := range []string{"123", "12345", "A1B2C3", "😀😀😀", "0000000"} {
		if got := phi.MaskID(id); strings.Contains(got, id) {
			t.Errorf("MaskID(%q) = %q shows the id", id, got)
		}
		text := "ID " + id + " end"
		if got := phi.MaskText(text); strings.Contains(got, id) {
			t.Errorf("MaskText(%q) = %q shows the id", text, got)
		}
	}

	for _, phone := range []string{"+15551234567", "5551234567", "+442071838750", "1234567"} {
		digits := strings.TrimPrefix(phone, "+")
		if got := phi.MaskPhone(phone); strings.Contains(got, digits) {
			t.Errorf("MaskPhone(%q) = %q shows the number", phone, got)
		}
	}
}

func isSep(r rune) bool { return r == ' ' || r == '-' }
