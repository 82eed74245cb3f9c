package zonehealth

import (
	"errors"
	"testing"
	"time"
)

func TestConfigWithDefaults(t *testing.T) {
	got := Config{Window: 10}.WithDefaults()
	want := Config{Interval: 500 * time.Millisecond, Timeout: time.Second, SlowAfter: 100 * time.Millisecond,
		ImpairAfter: 4, Window: 10, HealAfter: 20, MaxTargetsPerZone: 6}
	if got != want {
		t.Errorf("WithDefaults:\n got %+v\nwant %+v", got, want)
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero takes the defaults", Config{}, true},
		{"tight but sound", Config{Interval: 5 * time.Millisecond, Timeout: 20 * time.Millisecond,
			SlowAfter: 10 * time.Millisecond, ImpairAfter: 2, Window: 2, HealAfter: 1, MaxTargetsPerZone: 1}, true},
		{"negative interval", Config{Interval: -time.Second}, false},
		{"negative window", Config{Window: -1}, false},
		{"ImpairAfter above Window", Config{ImpairAfter: 7}, false},
		{"SlowAfter not below Timeout", Config{SlowAfter: time.Second}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.ok && err != nil {
				t.Errorf("Validate: %v", err)
			}
			if !tc.ok && !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("Validate = %v, want ErrInvalidConfig", err)
			}
		})
	}
}
