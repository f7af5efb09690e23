package session

import "strings"

// NormalizeTraceID checks a caller's trace id, taken from the body's trace_id or an
// X-Trace-Id header. It returns the id trimmed of white space, and whether it can be
// used: 1 to 128 characters, each an ASCII letter or digit or one of - _ . : so that
// an email address, a name or any other free text cannot become a trace id and reach
// the logs. A refused id is never used: the API ignores a bad X-Trace-Id header (the
// session id stands in), and Validate lists a bad trace_id field as a problem.
func NormalizeTraceID(s string) (string, bool) {
	s = strings.TrimFunc(s, isSpace)
	if s == "" || len(s) > maxTraceIDLen || strings.ContainsFunc(s, notTraceRune) {
		return "", false
	}
	return s, true
}

// notTraceRune reports whether r may not appear in a trace id.
func notTraceRune(r rune) bool {
	switch {
	case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		return false
	case r == '-', r == '_', r == '.', r == ':':
		return false
	}
	return true
}

// TraceIDFromTraceparent returns the trace-id of a W3C traceparent header
// (version-traceid-parentid-flags, e.g.
// 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01): 32 lowercase hex digits.
// It reports false when the header is malformed or either id is all zeros. Versions
// after 00 may append more fields, as the W3C spec allows.
func TraceIDFromTraceparent(h string) (string, bool) {
	parts := strings.Split(strings.TrimFunc(h, isSpace), "-")
	if len(parts) < 4 {
		return "", false
	}
	version, traceID, parentID, flags := parts[0], parts[1], parts[2], parts[3]
	if !isHex(version, 2) || version == "ff" || (version == "00" && len(parts) != 4) ||
		!isHex(traceID, 32) || !isHex(parentID, 16) || !isHex(flags, 2) ||
		strings.Trim(traceID, "0") == "" || strings.Trim(parentID, "0") == "" {
		return "", false
	}
	return traceID, true
}

// isHex reports whether s is n lowercase hex digits.
func isHex(s string, n int) bool {
	return len(s) == n && strings.Trim(s, "0123456789abcdef") == ""
}
