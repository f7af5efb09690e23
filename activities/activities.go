// Package activities holds the SessionLifecycle's side effects: creating the meeting,
// the session log, patient messages, the staff notification, and the billing and
// follow-up triggers. Each reaches the outside world through a small interface, so that
// the local sinks and the vendor clients are interchangeable.
package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/telehealth/sessions/internal/integrations/vendor"
	"github.com/telehealth/sessions/internal/phi"
	"github.com/telehealth/sessions/internal/video"
)

// Error types of non-retryable failures.
const (
	ErrTypePlatformRejected = "PlatformRejected"
	ErrTypeDeliveryRejected = "DeliveryRejected"
)

// ErrTypeDeliveryBusy is the type of a retryable vendor failure (429, 5xx, timeout).
const ErrTypeDeliveryBusy = "DeliveryBusy"

// SessionLog keeps one record per session and status: the audit trail that the
// original kept in Google Sheets.
type SessionLog interface {
	Record(ctx context.Context, row LogRow) error
}

// Mailer sends email.
type Mailer interface {
	SendEmail(ctx context.Context, m Email) error
}

// Texter sends SMS.
type Texter interface {
	SendSMS(ctx context.Context, m SMS) error
}

// Notifier posts to the staff channel. Everything it receives is already masked.
type Notifier interface {
	Notify(ctx context.Context, n StaffNotice) error
}

// Triggers hand a finished session to the billing (M04) and follow-up (M05) services.
type Triggers interface {
	TriggerBilling(ctx context.Context, r BillingRequest) error
	TriggerFollowUp(ctx context.Context, r FollowUpRequest) error
}

// Activities is the set of activities. Workflows reference its methods through a nil
// pointer; the worker registers one built with real clients.
type Activities struct {
	Video    video.Platform
	Launch   LaunchLinks
	Log      SessionLog
	Mail     Mailer
	SMS      Texter
	Staff    Notifier
	Triggers Triggers
	Clinic   Clinic
	// Reminders, when set, takes reminders instead of Mail and SMS (visit.go).
	Reminders Reminders
	// Queue reaches the provider's waiting room (visit.go); nil: no "you are next".
	Queue Queue
	// EHR receives finished visits as FHIR resources (ehr.go); nil: none are sent.
	EHR EHR
	// Retentions starts recordings' retention workflows (retention.go).
	Retentions RetentionStarter
	// Audit is the audit log, where recordings' deletions are appended
	// (retention.go).
	Audit Auditor
}

// LaunchLinks makes the provider's launch link: our own opaque link that mints the
// platform's host start link at click time (see internal/launch).
type LaunchLinks interface {
	URL(sessionID, meetingID string) string
}

// Clinic is how messages to patients sign off.
type Clinic struct {
	Name  string
	Phone string
}

// CreateMeetingInput asks for a session's meeting.
type CreateMeetingInput struct {
	SessionID       string    `json:"sessionId"`
	Start           time.Time `json:"start"`
	DurationMinutes int       `json:"durationMinutes"`
	Timezone        string    `json:"timezone,omitempty"`
	// MayExist says that an earlier try, in another activity, may have made it.
	MayExist bool `json:"mayExist,omitempty"`
}

// CreateMeeting creates the session's meeting. An attempt after a failed one, or one
// whose input says so, first looks for a meeting that an earlier try may have
// created, so that a booking never gets two meetings. The platform's host start link
// is a credential that expires: it is dropped here, before the result reaches the
// history, the session log or any message, and replaced by the provider's launch link
// (empty without Launch).
func (a *Activities) CreateMeeting(
	ctx context.Context,
	in CreateMeetingInput,
) (video.Meeting, error) {
	m, err := a.Video.CreateMeeting(ctx, video.MeetingRequest{
		SessionID:       in.SessionID,
		Start:           in.Start,
		DurationMinutes: in.DurationMinutes,
		Timezone:        in.Timezone,
		MayExist:        in.MayExist || activity.GetInfo(ctx).Attempt > 1,
	})
	if err != nil {
		return video.Meeting{}, classify(err)
	}
	m.HostURL = ""
	if a.Launch != nil {
		m.HostURL = a.Launch.URL(in.SessionID, m.ID)
	}
	return m, nil
}

// LogRow is one session-log record, in the columns the original documented.
type LogRow struct {
	Timestamp          time.Time `json:"timestamp"`
	SessionID          string    `json:"sessionId"`
	BookingID          string    `json:"bookingId"`
	MeetingID          string    `json:"meetingId"`
	PatientEmail       phi.Email `json:"patientEmail"`
	MeetingURL         string    `json:"meetingUrl"`
	ProviderURL        string    `json:"providerUrl"`
	ScheduledStart     time.Time `json:"scheduledStart"`
	DurationMinutes    int       `json:"durationMinutes"`
	EncryptionEnabled  bool      `json:"encryptionEnabled"`
	WaitingRoomEnabled bool      `json:"waitingRoomEnabled"`
	RecordingEnabled   bool      `json:"recordingEnabled"`
	ClientIP           string    `json:"clientIp"`
	Status             string    `json:"status"`
}

// RecordSession writes a session-log record.
func (a *Activities) RecordSession(ctx context.Context, row LogRow) error {
	return classify(a.Log.Record(ctx, row))
}

// BillingRequest is the billing module's (M04) payment request for a session.
type BillingRequest struct {
	SessionID     string    `json:"sessionId"`
	BookingID     string    `json:"bookingId"`
	CustomerEmail phi.Email `json:"customerEmail"`
	AmountCents   int       `json:"amountCents"`
	Description   string    `json:"description"`
	// DurationMinutes is the billed duration: on the live visit, the minutes the
	// provider and the patient were both in the meeting, rounded up.
	DurationMinutes int `json:"durationMinutes"`
	// The live visit adds what the billing module may want to see.
	ScheduledMinutes int        `json:"scheduledMinutes,omitempty"`
	ActualStart      *time.Time `json:"actualStart,omitempty"`
	ActualEnd        *time.Time `json:"actualEnd,omitempty"`
	// NoShow marks the no-show path: the patient never came.
	NoShow bool `json:"noShow,omitempty"`
}

// TriggerBilling hands the session to billing.
func (a *Activities) TriggerBilling(ctx context.Context, r BillingRequest) error {
	return classify(a.Triggers.TriggerBilling(ctx, r))
}

// FollowUpRequest is the follow-up module's (M05) campaign request for a session.
type FollowUpRequest struct {
	SessionID    string    `json:"sessionId"`
	BookingID    string    `json:"bookingId"`
	PatientEmail phi.Email `json:"patientEmail"`
	VisitDate    time.Time `json:"visitDate"`
	ProviderName string    `json:"providerName,omitempty"`
}

// TriggerFollowUp hands the session to the follow-up campaign.
func (a *Activities) TriggerFollowUp(ctx context.Context, r FollowUpRequest) error {
	return classify(a.Triggers.TriggerFollowUp(ctx, r))
}

// PermanentError marks a failure that no retry can fix (a rejected recipient, bad
// credentials). Sinks and vendor clients return it; classify turns it into a
// non-retryable activity failure.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// classify turns a sink or platform error into what Temporal's retry policy needs:
// non-retryable application errors for faults that retrying cannot fix, and a retry
// delay where the platform asked for one.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var verr *video.Error
	if errors.As(err, &verr) {
		if !verr.Retryable {
			return temporal.NewNonRetryableApplicationError(
				verr.Error(), ErrTypePlatformRejected, nil)
		}
		if verr.RetryAfter > 0 {
			return temporal.NewApplicationErrorWithOptions(verr.Error(), "PlatformBusy",
				temporal.ApplicationErrorOptions{NextRetryDelay: verr.RetryAfter})
		}
		return err
	}
	if verr, ok := errors.AsType[*vendor.Error](err); ok {
		if !verr.Retryable {
			return temporal.NewNonRetryableApplicationError(
				verr.Error(), ErrTypeDeliveryRejected, nil)
		}
		return temporal.NewApplicationErrorWithOptions(verr.Error(), ErrTypeDeliveryBusy,
			temporal.ApplicationErrorOptions{NextRetryDelay: verr.RetryAfter})
	}
	var perm *PermanentError
	if errors.As(err, &perm) {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprint(perm.Err), ErrTypeDeliveryRejected, nil)
	}
	return err
}
