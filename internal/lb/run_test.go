package lb

import (
	"context"
	"errors"
	"net"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"
)

// TestRunReloadsOnSIGHUPAndStopsWithContext runs the form cellplane's
// `lb` command uses: a reload interval too long to matter, so only SIGHUP
// can make the endpoint appear.
func TestRunReloadsOnSIGHUPAndStopsWithContext(t *testing.T) {
	// Keep a SIGHUP sent before Run subscribes from killing the test binary.
	guard := make(chan os.Signal, 1)
	signal.Notify(guard, syscall.SIGHUP)
	defer signal.Stop(guard)

	a := startFakeAPIServer(t, "a")
	h := &harness{t: t, dir: t.TempDir(), caDir: t.TempDir()}
	if err := os.WriteFile(h.caFile(), mustCert(t).pem, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{ConfigDir: h.dir, ReloadInterval: time.Hour, Logger: testLogger(t)})
	}()

	cfg := h.endpointConfig("default.demo", a)
	cfg.Listen = freeAddr(t)
	h.write(cfg)
	eventually(t, "endpoint listening after SIGHUP", func() bool {
		_ = syscall.Kill(os.Getpid(), syscall.SIGHUP)
		conn, err := net.DialTimeout("tcp", cfg.Listen, 100*time.Millisecond)
		if err == nil {
			conn.Close()
		}
		return err == nil
	})

	cancel()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Run did not return after cancel")
	}
	if conn, err := net.Dial("tcp", cfg.Listen); err == nil {
		conn.Close()
		t.Errorf("listener still open after Run returned")
	}
	checkNoLeaks(t)
}

func TestStartTwice(t *testing.T) {
	h := newHarness(t)
	if err := h.lb.Start(context.Background()); !errors.Is(err, ErrStarted) {
		t.Errorf("second Start = %v, want ErrStarted", err)
	}
}

func TestStartFailsOnBusyStatusAddr(t *testing.T) {
	squatter, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer squatter.Close()
	b, err := New(Config{ConfigDir: t.TempDir(), StatusAddr: squatter.Addr().String(), StatusTLS: newStatusPKI(t).files})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err == nil {
		t.Error("Start succeeded on a busy status address")
	}
	checkNoLeaks(t)
}

func TestContextCancelCloses(t *testing.T) {
	a := startFakeAPIServer(t, "a")
	h := &harness{t: t, dir: t.TempDir(), caDir: t.TempDir()}
	_ = os.WriteFile(h.caFile(), mustCert(t).pem, 0o600)
	h.write(h.endpointConfig("default.demo", a))
	b, err := New(Config{ConfigDir: h.dir})
	if err != nil {
		t.Fatal(err)
	}
	h.lb = b
	ctx, cancel := context.WithCancel(context.Background())
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	addr := h.waitListening("default.demo")
	cancel()
	eventually(t, "listener closed after cancel", func() bool {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			conn.Close()
		}
		return err != nil
	})
	checkNoLeaks(t)
}
