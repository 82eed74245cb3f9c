package ratelimit

import (
	"errors"
	"fmt"
	"testing"
)

func TestAccountsAreIndependent(t *testing.T) {
	l := New(Config{AccountRate: 0.001, AccountBurst: 5})
	throttled := 0
	for range 20 {
		if err := l.AllowAccount("a"); errors.Is(err, ErrThrottled) {
			throttled++
		}
	}
	if throttled != 15 {
		t.Fatalf("account a: %d of 20 throttled; want 15 (burst 5)", throttled)
	}
	for range 5 {
		if err := l.AllowAccount("b"); err != nil {
			t.Fatalf("account b throttled by a's burst: %v", err)
		}
	}
	if err := l.AllowSource("127.0.0.1"); err != nil {
		t.Fatalf("source limit off, got %v", err)
	}
}

func TestBucketsAreBounded(t *testing.T) {
	l := New(Config{SourceRate: 1, SourceBurst: 1, MaxTracked: 100})
	for i := range 1000 {
		_ = l.AllowSource(fmt.Sprintf("10.0.%d.%d", i/256, i%256))
	}
	if n := l.sources.tracked(); n != 100 {
		t.Fatalf("tracked %d sources; want 100", n)
	}
}

func TestNilLimiterAllows(t *testing.T) {
	var l *Limiter
	if l.AllowAccount("a") != nil || l.AllowSource("s") != nil {
		t.Fatal("nil limiter throttled")
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []Config{{AccountRate: -1}, {SourceRate: 1}, {AccountRate: 1, AccountBurst: 0}, {MaxTracked: -1}} {
		if c.Validate() == nil {
			t.Errorf("%+v validated", c)
		}
	}
	if err := Default().Validate(); err != nil {
		t.Fatal(err)
	}
}
