package cli

import (
	"testing"
	"time"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

func TestFaultFromFlags(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		cut, blackhole, clear bool
		latency               time.Duration
		loss                  int
		want                  *v1alpha1.ZoneFault
		wantErr               bool
	}{
		{name: "nothing", wantErr: true},
		{name: "two", cut: true, blackhole: true, wantErr: true},
		{name: "clear and loss", clear: true, loss: 5, wantErr: true},
		{name: "clear", clear: true},
		{name: "cut", cut: true, want: &v1alpha1.ZoneFault{Kind: v1alpha1.ZoneFaultCut}},
		{name: "blackhole", blackhole: true, want: &v1alpha1.ZoneFault{Kind: v1alpha1.ZoneFaultBlackhole}},
		{name: "latency and loss", latency: 200 * time.Millisecond, loss: 20,
			want: &v1alpha1.ZoneFault{Kind: v1alpha1.ZoneFaultDegrade, LatencyMilliseconds: 200, LossPercent: 20}},
		{name: "loss only", loss: 100, want: &v1alpha1.ZoneFault{Kind: v1alpha1.ZoneFaultDegrade, LossPercent: 100}},
		{name: "latency too long", latency: 6 * time.Second, wantErr: true},
		{name: "latency below a millisecond", latency: 1500 * time.Microsecond, wantErr: true},
		{name: "negative loss", loss: -1, wantErr: true},
		{name: "loss over 100", loss: 101, wantErr: true},
	} {
		got, err := faultFromFlags(tc.cut, tc.blackhole, tc.clear, tc.latency, tc.loss)
		if (err != nil) != tc.wantErr || (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
			t.Errorf("%s: got %+v, %v; want %+v (error %v)", tc.name, got, err, tc.want, tc.wantErr)
		}
	}
}
