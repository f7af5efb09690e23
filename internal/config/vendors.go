package config

import "log/slog"

// Vendors is where side effects go: the session log, patient messages, the staff
// channel and the billing and follow-up triggers. Unset, each goes to a local sink.
type Vendors struct{}

func (v Vendors) problems() []error { return nil }

func (v Vendors) attrs() []slog.Attr { return nil }
