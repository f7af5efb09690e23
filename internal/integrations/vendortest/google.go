package vendortest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Google is a local Google: the OAuth 2.0 token endpoint of a service account's JWT
// flow, the Sheets API v4 values methods, and the Calendar API v3 events methods with
// Meet conferences. Each API call needs a token the endpoint issued.
type Google struct {
	base
	key         *rsa.PrivateKey
	clientEmail string

	mu      sync.Mutex
	tokens  map[string]tokenGrant
	mints   int
	sheets  map[string]map[string][][]string // spreadsheet id → tab → rows
	events  map[string]map[string]*calEvent  // calendar id → event id → event
	deleted map[string]bool                  // calendar/event ids deleted
}

type tokenGrant struct {
	scope   string
	subject string
}

// NewGoogle starts a Google with one service account and one spreadsheet whose tabs
// are named; each tab starts with the given header row (none when nil).
func NewGoogle(t testing.TB, spreadsheetID string, tabs map[string][]string) *Google {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	g := &Google{
		key: key, clientEmail: "sessions@telehealth-test.iam.gserviceaccount.com",
		tokens: map[string]tokenGrant{},
		sheets: map[string]map[string][][]string{spreadsheetID: {}},
		events: map[string]map[string]*calEvent{}, deleted: map[string]bool{},
	}
	for tab, header := range tabs {
		var rows [][]string
		if header != nil {
			rows = [][]string{append([]string(nil), header...)}
		}
		g.sheets[spreadsheetID][tab] = rows
	}
	g.start(t, g.serve)
	return g
}

// TokenURL is the token endpoint, which the credentials file names.
func (g *Google) TokenURL() string { return g.srv.URL + "/token" }

// Mints is how many tokens the endpoint issued.
func (g *Google) Mints() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.mints
}

// CredentialsFile writes a service-account JSON file whose token_uri is this
// server's token endpoint, and returns its path.
func (g *Google) CredentialsFile(t testing.TB) string {
	der, err := x509.MarshalPKCS8PrivateKey(g.key)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	b, _ := json.Marshal(map[string]string{
		"type":           "service_account",
		"project_id":     "telehealth-test",
		"private_key_id": "test-key-1",
		"private_key":    string(pemKey),
		"client_email":   g.clientEmail,
		"client_id":      "100000000000000000001",
		"auth_uri":       "https://accounts.google.com/o/oauth2/auth",
		"token_uri":      g.TokenURL(),
	})
	path := filepath.Join(t.TempDir(), "service-account.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Rows returns a tab's rows.
func (g *Google) Rows(spreadsheetID, tab string) [][]string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out [][]string
	for _, r := range g.sheets[spreadsheetID][tab] {
		out = append(out, append([]string(nil), r...))
	}
	return out
}

// googleError is the body of a Google API error.
func googleError(code int, status, message string) map[string]any {
	return map[string]any{"error": map[string]any{
		"code": code, "message": message, "status": status,
		"errors": []map[string]any{{"message": message, "domain": "global",
			"reason": reasonOf(status)}},
	}}
}

func reasonOf(status string) string {
	switch status {
	case "NOT_FOUND":
		return "notFound"
	case "UNAUTHENTICATED":
		return "authError"
	case "ALREADY_EXISTS":
		return "duplicate"
	case "RESOURCE_EXHAUSTED":
		return "rateLimitExceeded"
	case "INVALID_ARGUMENT":
		return "badRequest"
	}
	return "backendError"
}

func (g *Google) serve(w http.ResponseWriter, r *http.Request) {
	// Faults are for API calls; the token endpoint always answers.
	req, fault := g.log(r, r.URL.Path != "/token")
	wait(r, fault)
	if r.URL.Path == "/token" {
		g.token(w, r)
		return
	}
	grant, ok := g.authorized(r)
	if !ok {
		writeJSON(w, http.StatusUnauthorized, googleError(401, "UNAUTHENTICATED",
			"Request had invalid authentication credentials."))
		return
	}
	if fault != nil && !fault.Accept {
		answerFault(w, fault, func(s int) any {
			st := "INTERNAL"
			if s == http.StatusTooManyRequests {
				st = "RESOURCE_EXHAUSTED"
			}
			return googleError(s, st, "fault")
		})
		return
	}
	var status int
	var answer any
	switch {
	case strings.HasPrefix(r.URL.Path, "/v4/spreadsheets/"):
		if !strings.Contains(grant.scope, "auth/spreadsheets") {
			status, answer = 403, googleError(403, "PERMISSION_DENIED",
				"Request had insufficient authentication scopes.")
		} else {
			status, answer = g.sheetsCall(r, req.Body)
		}
	case strings.HasPrefix(r.URL.Path, "/calendar/v3/calendars/"):
		if !strings.Contains(grant.scope, "auth/calendar") {
			status, answer = 403, googleError(403, "PERMISSION_DENIED",
				"Request had insufficient authentication scopes.")
		} else {
			status, answer = g.calendarCall(r, req.Body)
		}
	default:
		status, answer = 404, googleError(404, "NOT_FOUND", "Not Found")
	}
	if fault != nil {
		answerFault(w, fault, func(s int) any { return googleError(s, "INTERNAL", "fault") })
		return
	}
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, answer)
}

func (g *Google) authorized(r *http.Request) (tokenGrant, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return tokenGrant{}, false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	grant, ok := g.tokens[tok]
	return grant, ok
}

// token is the JWT-bearer grant: it checks the assertion's RS256 signature against the
// service account's key and its iss, aud, scope and times.
func (g *Google) token(w http.ResponseWriter, r *http.Request) {
	fail := func(desc string) {
		writeJSON(w, http.StatusBadRequest,
			map[string]string{"error": "invalid_grant", "error_description": desc})
	}
	if r.Method != http.MethodPost || r.ParseForm() != nil ||
		r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		writeJSON(w, http.StatusBadRequest, map[string]string{
			"error": "unsupported_grant_type", "error_description": "Invalid grant_type"})
		return
	}
	parts := strings.Split(r.PostForm.Get("assertion"), ".")
	if len(parts) != 3 {
		fail("Invalid JWT.")
		return
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err != nil || rsa.VerifyPKCS1v15(&g.key.PublicKey, crypto.SHA256, sum[:], sig) != nil {
		fail("Invalid JWT Signature.")
		return
	}
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct {
		Iss   string `json:"iss"`
		Aud   string `json:"aud"`
		Scope string `json:"scope"`
		Sub   string `json:"sub"`
		Exp   int64  `json:"exp"`
		Iat   int64  `json:"iat"`
	}
	if json.Unmarshal(raw, &c) != nil || c.Iss != g.clientEmail || c.Aud != g.TokenURL() ||
		c.Scope == "" {
		fail("Invalid JWT: Token must be a short-lived token and in a reasonable timeframe.")
		return
	}
	now := time.Now().Unix()
	if c.Exp < now || c.Exp-c.Iat > 3600 {
		fail("Invalid JWT: Token must be a short-lived token and in a reasonable timeframe.")
		return
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := "ya29." + base64.RawURLEncoding.EncodeToString(b)
	g.mu.Lock()
	g.tokens[tok] = tokenGrant{scope: c.Scope, subject: c.Sub}
	g.mints++
	g.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok, "expires_in": 3599, "token_type": "Bearer"})
}

// SetCell writes one cell, as a person editing the sheet would.
func (g *Google) SetCell(spreadsheetID, tab string, row, col int, v string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.sheets[spreadsheetID][tab] = setCell(g.sheets[spreadsheetID][tab], row, col, v)
}
