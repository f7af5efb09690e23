package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
)

// TemporalTLS is the connection to a Temporal cluster or Temporal Cloud over TLS,
// with client certificates (mTLS), under the Temporal CLI's variable names. Unset, the
// connection is plain, as to the local dev server.
type TemporalTLS struct {
	TLSCertPath   string `env:"TEMPORAL_TLS_CERT"`
	TLSKeyPath    string `env:"TEMPORAL_TLS_KEY"`
	TLSCAPath     string `env:"TEMPORAL_TLS_CA"`
	TLSServerName string `env:"TEMPORAL_TLS_SERVER_NAME"`
	TLSEnabled    bool   `env:"TEMPORAL_TLS" envDefault:"false"`
}

func (t TemporalTLS) problems() []error {
	var errs []error
	if (t.TLSCertPath == "") != (t.TLSKeyPath == "") {
		errs = append(errs, problem("TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together"))
	}
	for name, path := range map[string]string{
		"TEMPORAL_TLS_CERT": t.TLSCertPath,
		"TEMPORAL_TLS_KEY":  t.TLSKeyPath,
		"TEMPORAL_TLS_CA":   t.TLSCAPath,
	} {
		if path == "" {
			continue
		}
		if _, err := os.Stat(path); err != nil {
			errs = append(errs, problem("%s: %v", name, err))
		}
	}
	return errs
}

func (t TemporalTLS) attrs() []slog.Attr {
	return []slog.Attr{
		slog.Bool("temporal_tls", t.TLSConfigured()),
		slog.Bool("temporal_client_cert", t.TLSCertPath != ""),
	}
}

// TLSConfigured reports whether the connection to Temporal uses TLS.
func (t TemporalTLS) TLSConfigured() bool {
	return t.TLSEnabled || t.TLSCertPath != "" || t.TLSCAPath != ""
}

// TLSConfig returns the TLS configuration of the connection to Temporal, or nil for a
// plain one.
func (t TemporalTLS) TLSConfig() (*tls.Config, error) {
	if !t.TLSConfigured() {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.TLSServerName}
	if t.TLSCertPath != "" {
		cert, err := tls.LoadX509KeyPair(t.TLSCertPath, t.TLSKeyPath)
		if err != nil {
			return nil, fmt.Errorf("temporal tls: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if t.TLSCAPath != "" {
		pem, err := os.ReadFile(t.TLSCAPath)
		if err != nil {
			return nil, fmt.Errorf("temporal tls: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("temporal tls: no certificate in %s", t.TLSCAPath)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}
