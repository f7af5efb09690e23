// Package compliance resolves the service's HIPAA posture from its configuration: which
// vendor receives what, whether a Business Associate Agreement covers it, and, with
// HIPAA_MODE on, refuses to start when a vendor would receive PHI without one.
package compliance

import (
	"errors"
	"fmt"

	"github.com/telehealth/sessions/internal/config"
)

// What a vendor receives.
const (
	ReceivesPHI    = "phi"
	ReceivesMasked = "masked" // the staff channel: masked data only
)

// Use is one configured vendor and what it receives.
type Use struct {
	Vendor   string `json:"vendor"`
	Purpose  string `json:"purpose"`
	Receives string `json:"receives"`
	BAA      bool   `json:"baa"`
}

// Posture is the resolved compliance posture, logged at start-up and shown at
// GET /compliance.
type Posture struct {
	HIPAAMode         bool     `json:"hipaa_mode"`
	PayloadEncryption string   `json:"payload_encryption"`
	APIKeys           bool     `json:"api_keys"`
	TLS               bool     `json:"tls"`
	Audit             string   `json:"audit"`
	Vendors           []Use    `json:"vendors"`
	Local             []string `json:"local_sinks"`
}

// uses lists the external vendors the configuration sends data to. A side effect that
// stays on this machine (the sandbox, the local sinks) or in our own Temporal cluster
// (signal triggers, sealed by the payload codec) is no vendor. A new vendor client adds
// its line here.
func uses(cfg config.Config) (vendors []Use, local []string) {
	phi := func(vendor, purpose string) {
		vendors = append(vendors, Use{Vendor: vendor, Purpose: purpose, Receives: ReceivesPHI})
	}
	switch cfg.VideoPlatform {
	case config.PlatformZoom:
		phi("zoom", "video visits")
	case config.PlatformDoxy:
		phi("doxy", "video visits")
	case config.PlatformMeet:
		phi("google", "video visits (Meet)")
	default:
		local = append(local, "video sandbox")
	}
	if cfg.SheetsEnabled() {
		vendors = append(vendors, Use{Vendor: "google", Purpose: "session log (Sheets)",
			Receives: ReceivesMasked})
	} else {
		local = append(local, "session log file")
	}
	if cfg.SendGridEnabled() {
		phi("sendgrid", "patient email")
	}
	if cfg.TwilioEnabled() {
		phi("twilio", "patient sms")
	}
	if !cfg.SendGridEnabled() || !cfg.TwilioEnabled() {
		local = append(local, "outbox file (messages)")
	}
	if cfg.StaffWebhookURL != "" {
		vendors = append(vendors, Use{Vendor: cfg.StaffWebhookFormat,
			Purpose: "staff channel", Receives: ReceivesMasked})
	}
	if cfg.BillingWebhookURL != "" {
		phi("billing", "billing trigger")
	}
	if cfg.FollowUpWebhookURL != "" {
		phi("followup", "follow-up trigger")
	}
	if cfg.EHREnabled() {
		phi("ehr", "FHIR Appointment and Encounter")
	}
	return vendors, local
}

// Resolve returns the posture, and with HIPAA_MODE an error naming every vendor that
// would receive PHI without a BAA.
func Resolve(cfg config.Config) (Posture, error) {
	p := Posture{
		HIPAAMode:         cfg.HIPAAMode,
		PayloadEncryption: "AES-256-GCM, generated local key",
		APIKeys:           cfg.APIKeyEnabled,
		TLS:               cfg.TLSCertFile != "",
		Audit:             "sqlite",
	}
	if cfg.PayloadKeys != "" {
		p.PayloadEncryption = "AES-256-GCM, PAYLOAD_KEYS"
	}
	if cfg.AuditDatabaseURL != "" {
		p.Audit = "postgresql"
	}
	vendors, local := uses(cfg)
	p.Local = local
	var errs []error
	for _, u := range vendors {
		u.BAA = cfg.HasBAA(u.Vendor)
		p.Vendors = append(p.Vendors, u)
		if cfg.HIPAAMode && !u.BAA && u.Receives == ReceivesPHI {
			errs = append(errs, fmt.Errorf(
				"HIPAA_MODE: %s receives PHI (%s) but is not in BAA_VENDORS", u.Vendor,
				u.Purpose))
		}
	}
	return p, errors.Join(errs...)
}
