package metrics

import (
	"context"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
)

// VendorFunc names the vendor behind an activity type.
type VendorFunc func(activityType string) string

// SideEffects returns a worker interceptor that counts each failed activity attempt
// under its vendor.
func (m *Metrics) SideEffects(vendor VendorFunc) interceptor.WorkerInterceptor {
	return &workerInterceptor{m: m, vendor: vendor}
}

type workerInterceptor struct {
	interceptor.WorkerInterceptorBase
	m      *Metrics
	vendor VendorFunc
}

func (w *workerInterceptor) InterceptActivity(
	ctx context.Context,
	next interceptor.ActivityInboundInterceptor,
) interceptor.ActivityInboundInterceptor {
	i := &activityInterceptor{w: w}
	i.Next = next
	return i
}

type activityInterceptor struct {
	interceptor.ActivityInboundInterceptorBase
	w *workerInterceptor
}

func (a *activityInterceptor) ExecuteActivity(
	ctx context.Context,
	in *interceptor.ExecuteActivityInput,
) (any, error) {
	out, err := a.Next.ExecuteActivity(ctx, in)
	if err != nil {
		name := activity.GetInfo(ctx).ActivityType.Name
		a.w.m.SideEffectFailed(a.w.vendor(name), name)
	}
	return out, err
}
