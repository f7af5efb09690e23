// Package temporalx dials Temporal the same way for the worker, the API and the tests.
package temporalx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"

	"github.com/telehealth/sessions/internal/codec"
)

// Options returns the client options for an address and namespace, logging through
// logger. Payloads, and failures' messages and stack traces, are sealed with pc before
// they leave the process; every client of the service (worker, API, tests) must use
// it, or the server would store PHI in clear.
func Options(
	address, namespace string,
	logger *slog.Logger,
	pc *codec.Codec,
) client.Options {
	return client.Options{
		HostPort:         address,
		Namespace:        namespace,
		Logger:           log.NewStructuredLogger(logger),
		DataConverter:    pc.DataConverter(),
		FailureConverter: pc.FailureConverter(),
	}
}

// Dial connects to Temporal with payloads sealed by pc.
func Dial(
	address, namespace string,
	logger *slog.Logger,
	pc *codec.Codec,
) (client.Client, error) {
	c, err := client.Dial(Options(address, namespace, logger, pc))
	if err != nil {
		return nil, fmt.Errorf("dial temporal at %s: %w", address, err)
	}
	return c, nil
}

// EnsureSearchAttributes registers the custom search attributes that are missing from
// the namespace; types maps each name to its type name (Keyword, Datetime, ...).
func EnsureSearchAttributes(
	ctx context.Context,
	c client.Client,
	namespace string,
	types map[string]string,
) error {
	ops := c.OperatorService()
	have, err := ops.ListSearchAttributes(ctx,
		&operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes: %w", err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for name, typ := range types {
		if _, ok := have.CustomAttributes[name]; ok {
			continue
		}
		v, err := enumspb.IndexedValueTypeFromString(typ)
		if err != nil {
			return fmt.Errorf("search attribute %s: %w", name, err)
		}
		missing[name] = v
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = ops.AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        namespace,
		SearchAttributes: missing,
	})
	var exists *serviceerror.AlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("add search attributes: %w", err)
	}
	return nil
}
