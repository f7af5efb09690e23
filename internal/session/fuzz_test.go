package session_test

import (
	"errors"
	"testing"

	"github.com/telehealth/sessions/internal/session"
)

// FuzzParse checks that Parse never panics, and that it returns either a Booking that
// passes Validate or a *ValidationError.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		`{"booking_id":"BK-1","patient_email":"john.doe@example.com"}`,
		`{"booking_id":"BK-1","patient_email":" A@B.CO ",` +
			`"scheduled_time":"2027-03-14T02:30","timezone":"America/New_York",` +
			`"duration_minutes":"45","patient_phone":"+1 (555) 1234567"}`,
		`{"booking_id":"x","patient_email":"a@b.c",` +
			`"scheduled_time":"2027-11-07T01:30:00-05:00","duration_minutes":45.5,` +
			`"trace_id":"t","patient_name":"Ann","provider_notes":"n"}`,
		`{"body":{"booking_id":"BK","patient_email":"a@b.co","provider_email":"P@Q.io"}}`,
		`{"booking_id":123,"patient_email":true,"timezone":"Local"}`,
		`[1,2]`, `null`, `{`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := session.Parse(body, lim)
		if err != nil {
			var verr *session.ValidationError
			if !errors.As(err, &verr) || len(verr.Problems) == 0 {
				t.Fatalf("Parse: err = %v, want a *ValidationError with problems", err)
			}
			return
		}
		if err := b.Validate(lim); err != nil {
			t.Fatalf("Parse returned %#v, which fails Validate: %v", b, err)
		}
	})
}
