package apiguard

import (
	"errors"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/cellplane/cellplane/internal/errdefs"
)

func TestServingFlagsAndValidation(t *testing.T) {
	var s Serving
	f := pflag.NewFlagSet("up", pflag.ContinueOnError)
	s.AddFlags(f)
	if s != DefaultServing() {
		t.Fatalf("flags' defaults %+v differ from DefaultServing", s)
	}
	if err := f.Parse([]string{"--api-idle-timeout", "1s", "--api-account-rate", "0"}); err != nil {
		t.Fatal(err)
	}
	if s.IdleTimeout != time.Second || s.Limits.AccountRate != 0 || s.Validate() != nil {
		t.Fatalf("parsed %+v (%v)", s, s.Validate())
	}
	srv := s.Server(nil)
	if srv.IdleTimeout != time.Second || srv.ReadHeaderTimeout != DefaultReadHeaderTimeout || srv.MaxHeaderBytes != DefaultMaxHeaderBytes || srv.Protocols.HTTP2() {
		t.Fatalf("server %+v", srv)
	}
	for name, bad := range map[string]func(*Serving){
		"no idle timeout":    func(s *Serving) { s.IdleTimeout = 0 },
		"negative read":      func(s *Serving) { s.ReadTimeout = -time.Second },
		"tiny headers":       func(s *Serving) { s.MaxHeaderBytes = 100 },
		"negative rate":      func(s *Serving) { s.Limits.SourceRate = -1 },
		"rate without burst": func(s *Serving) { s.Limits.AccountRate, s.Limits.AccountBurst = 5, 0 },
	} {
		s := DefaultServing()
		bad(&s)
		if err := s.Validate(); !errors.Is(err, errdefs.ErrInvalidConfig) {
			t.Errorf("%s: Validate = %v; want ErrInvalidConfig", name, err)
		}
	}
}
