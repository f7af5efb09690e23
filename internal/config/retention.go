package config

import "log/slog"

// Retention is how long platform recordings are kept before they are deleted.
type Retention struct {
	// RecordingRetentionDays after a recording completes, it is deleted from the
	// platform; the default is seven years.
	RecordingRetentionDays int `env:"RECORDING_RETENTION_DAYS" envDefault:"2555"`
}

func (r Retention) problems() []error {
	if r.RecordingRetentionDays < 1 || r.RecordingRetentionDays > 36500 {
		return []error{problem("RECORDING_RETENTION_DAYS must be from 1 to 36500")}
	}
	return nil
}

func (r Retention) attrs() []slog.Attr {
	return []slog.Attr{slog.Int("recording_retention_days", r.RecordingRetentionDays)}
}
