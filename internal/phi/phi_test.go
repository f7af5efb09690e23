package phi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/telehealth/sessions/internal/phi"
)

type record struct {
	Email phi.Email `json:"email"`
	Name  phi.Name  `json:"name"`
	Phone phi.Phone `json:"phone"`
	Notes phi.Text  `json:"notes"`
}

var sample = record{
	Email: "john.doe@example.com",
	Name:  "John Michael Doe",
	Phone: "+15551234567",
	Notes: "History of asthma",
}

// raw lists the sensitive parts of sample that must never be printed.
var raw = []string{"john.doe", "John", "Michael", "5551234567", "asthma"}

func TestPrintingIsMasked(t *testing.T) {
	values := []any{sample.Email, sample.Name, sample.Phone, sample.Notes, sample, &sample}
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d", "%10.3s"} {
		for _, v := range values {
			got := fmt.Sprintf(format, v)
			for _, secret := range raw {
				if strings.Contains(got, secret) ||
					strings.Contains(got, fmt.Sprintf("%x", secret)) {
					t.Errorf("Sprintf(%q, %T) = %q shows %q", format, v, got, secret)
				}
			}
		}
	}
}

func TestFormatKeepsVerbs(t *testing.T) {
	cases := []struct {
		format string
		v      any
		want   string
	}{
		{"%v", sample.Email, "j***e@example.com"},
		{"%s", sample.Name, "J*** M*** D***"},
		{"%q", sample.Phone, `"***-***-4567"`},
		{"%#v", sample.Notes, `"[redacted: 17 chars]"`},
		{"%d", sample.Email, "j***e@example.com"},
		{"%.5s", sample.Email, "j***e"},
		{"%+v", sample, "{Email:j***e@example.com Name:J*** M*** D*** " +
			"Phone:***-***-4567 Notes:[redacted: 17 chars]}"},
	}
	for _, c := range cases {
		if got := fmt.Sprintf(c.format, c.v); got != c.want {
			t.Errorf("Sprintf(%q) = %q, want %q", c.format, got, c.want)
		}
	}
	for _, v := range []fmt.GoStringer{sample.Email, sample.Name, sample.Phone, sample.Notes} {
		if got, want := v.GoString(), fmt.Sprintf("%q", v); got != want {
			t.Errorf("%T.GoString() = %q, want %q", v, got, want)
		}
	}
}

func TestLogValueIsMasked(t *testing.T) {
	for _, newHandler := range []func(*bytes.Buffer) slog.Handler{
		func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
	} {
		var buf bytes.Buffer
		slog.New(newHandler(&buf)).Info("booked",
			"email", sample.Email, "name", sample.Name,
			slog.Any("phone", sample.Phone), slog.Any("notes", sample.Notes))
		got := buf.String()
		for _, secret := range raw {
			if strings.Contains(got, secret) {
				t.Errorf("log line %q shows %q", got, secret)
			}
		}
		if !strings.Contains(got, "j***e@example.com") {
			t.Errorf("log line %q lacks the masked email", got)
		}
	}
}

// TestJSONIsRaw pins the documented choice: payloads carry the real values.
func TestJSONIsRaw(t *testing.T) {
	data, err := json.Marshal(sample)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"email":"john.doe@example.com","name":"John Michael Doe",` +
		`"phone":"+15551234567","notes":"History of asthma"}`
	if string(data) != want {
		t.Fatalf("Marshal = %s, want %s", data, want)
	}
	var back record
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back != sample {
		t.Errorf("round trip = %#v, want the original", back)
	}
}
