// Package launch makes and checks the providers' host launch links. A platform's host
// start link is a credential that expires, so it is never stored: the provider gets
// /sessions/{id}/launch/{token} on our API instead, which mints a fresh start link from
// the platform at click time and redirects to it.
//
// The token is an HMAC of the session and meeting ids under a subkey of the payload
// keys; it names the key, so links made before a key rotation keep working while the
// old key is configured.
package launch

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"

	"github.com/telehealth/sessions/internal/codec"
)

// ErrBadToken is a launch token that does not match the session.
var ErrBadToken = errors.New("launch: token does not match the session")

// Links makes and checks launch links.
type Links struct {
	base    string
	current string
	keys    map[string][]byte
}

// New returns launch links on base, the API's public URL, signed with subkeys of pc.
func New(base string, pc *codec.Codec) *Links {
	return &Links{
		base:    strings.TrimSuffix(base, "/"),
		current: pc.CurrentKeyID(),
		keys:    pc.Derived(codec.PurposeLaunch),
	}
}

// URL returns the provider's launch link for a session's meeting.
func (l *Links) URL(sessionID, meetingID string) string {
	return l.base + "/sessions/" + url.PathEscape(sessionID) + "/launch/" +
		l.token(l.current, sessionID, meetingID)
}

// Check reports whether token is the launch token of the session's meeting, under
// any configured key.
func (l *Links) Check(token, sessionID, meetingID string) error {
	id, _, ok := strings.Cut(token, ".")
	if !ok {
		return ErrBadToken
	}
	if _, known := l.keys[id]; !known {
		return ErrBadToken
	}
	if !hmac.Equal([]byte(token), []byte(l.token(id, sessionID, meetingID))) {
		return ErrBadToken
	}
	return nil
}

func (l *Links) token(keyID, sessionID, meetingID string) string {
	m := hmac.New(sha256.New, l.keys[keyID])
	m.Write([]byte(sessionID))
	m.Write([]byte{0})
	m.Write([]byte(meetingID))
	return keyID + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
