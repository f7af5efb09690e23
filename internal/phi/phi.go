// Package phi holds protected health information (PHI) types and the functions that
// mask PHI for logs and notifications.
//
// Email, Name, Phone and Text are strings underneath. When they are printed, they show
// only the masked form: through String, GoString, LogValue, and Format for every fmt
// verb. So a stray %v, %d or slog attribute shows no PHI.
//
// Marshalling is deliberately left alone: encoding/json writes the raw value, because
// these values must reach activities intact as Temporal payloads. As a result,
// slog.JSONHandler prints raw values for a struct that holds them (slog.Any(booking)):
// log the fields, not the struct. Code that needs the raw value converts it
// explicitly, e.g. string(email), so every such use is easy to find.
package phi

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// Email is a patient's email address.
type Email string

// Name is a person's name.
type Name string

// Phone is a phone number.
type Phone string

// Text is free text that may hold PHI, such as a provider's notes.
type Text string

// String returns the masked address; see MaskEmail.
func (e Email) String() string { return MaskEmail(string(e)) }

// GoString returns the masked address, quoted.
func (e Email) GoString() string { return strconv.Quote(e.String()) }

// LogValue returns the masked address.
func (e Email) LogValue() slog.Value { return slog.StringValue(e.String()) }

// Format writes the masked address for every verb.
func (e Email) Format(f fmt.State, verb rune) { format(f, verb, e.String()) }

// String returns the masked name; see MaskName.
func (n Name) String() string { return MaskName(string(n)) }

// GoString returns the masked name, quoted.
func (n Name) GoString() string { return strconv.Quote(n.String()) }

// LogValue returns the masked name.
func (n Name) LogValue() slog.Value { return slog.StringValue(n.String()) }

// Format writes the masked name for every verb.
func (n Name) Format(f fmt.State, verb rune) { format(f, verb, n.String()) }

// String returns the masked number; see MaskPhone.
func (p Phone) String() string { return MaskPhone(string(p)) }

// GoString returns the masked number, quoted.
func (p Phone) GoString() string { return strconv.Quote(p.String()) }

// LogValue returns the masked number.
func (p Phone) LogValue() slog.Value { return slog.StringValue(p.String()) }

// Format writes the masked number for every verb.
func (p Phone) Format(f fmt.State, verb rune) { format(f, verb, p.String()) }

// String returns a placeholder that gives only the length; see MaskText.
func (t Text) String() string { return MaskText(string(t)) }

// GoString returns the placeholder, quoted.
func (t Text) GoString() string { return strconv.Quote(t.String()) }

// LogValue returns the placeholder.
func (t Text) LogValue() slog.Value { return slog.StringValue(t.String()) }

// Format writes the placeholder for every verb.
func (t Text) Format(f fmt.State, verb rune) { format(f, verb, t.String()) }

// format prints masked with the caller's verb and flags. A verb that makes no sense
// for a string is printed as %s: fmt would otherwise print the raw operand in its
// "%!d(...)" error text.
func format(f fmt.State, verb rune, masked string) {
	if !strings.ContainsRune("vsqxX", verb) {
		verb = 's'
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), masked)
}
