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
)

// Options returns the client options for an address and namespace, logging through
// logger.
func Options(address, namespace string, logger *slog.Logger) client.Options {
	// TODO(#5): encrypt payloads and failures with a codec before PHI leaves the process.
	return client.Options{
		HostPort:  address,
		Namespace: namespace,
		Logger:    log.NewStructuredLogger(logger),
	}
}

// Dial connects to Temporal.
func Dial(address, namespace string, logger *slog.Logger) (client.Client, error) {
	c, err := client.Dial(Options(address, namespace, logger))
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
