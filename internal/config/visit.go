package config

import "log/slog"

// Visit is the live visit: platform webhooks and the visit's timers.
type Visit struct{}

func (v Visit) problems() []error { return nil }

func (v Visit) attrs() []slog.Attr { return nil }
