package plugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	kmsapi "k8s.io/kms/apis/v2"
	kmsservice "k8s.io/kms/pkg/service"

	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/kms/keyset"
)

// Config is one plugin's: where it serves and the keys it holds.
type Config struct {
	// Socket is the unix socket kube-apiserver's EncryptionConfiguration names.
	Socket string
	Keys   keyset.Set
	// Disabled, when set, serves without keys: every call fails with this
	// reason (see DisabledEnv). Keys are then ignored.
	Disabled string
	Logger   *slog.Logger
}

// Validate refuses a config the plugin cannot serve with.
func (c Config) Validate() error {
	if c.Socket == "" {
		return fmt.Errorf("%w: the plugin needs a socket path", errdefs.ErrInvalidConfig)
	}
	if c.Disabled != "" {
		return nil
	}
	if err := c.Keys.Validate(); err != nil {
		return fmt.Errorf("%w: %w", errdefs.ErrInvalidConfig, err)
	}
	return nil
}

// connectionTimeout bounds a client's connection handshake.
const connectionTimeout = 5 * time.Second

// stopGrace is how long in-flight calls get to finish once ctx ends.
const stopGrace = 3 * time.Second

// Serve serves the KMS v2 API on cfg.Socket until ctx ends.
func Serve(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	var svc kmsservice.Service = Disabled(cfg.Disabled)
	if cfg.Disabled == "" {
		s, err := NewService(cfg.Keys)
		if err != nil {
			return err
		}
		svc = s
	}
	ln, err := Listen(cfg.Socket)
	if err != nil {
		return err
	}
	gs := grpc.NewServer(grpc.ConnectionTimeout(connectionTimeout))
	// GRPCService is upstream's translation of the gRPC messages to
	// kmsservice.Service; its ListenAndServe is not used, as it cannot replace
	// a stale socket or bind a path longer than a socket address.
	kmsapi.RegisterKeyManagementServiceServer(gs, kmsservice.NewGRPCService(cfg.Socket, connectionTimeout, svc))
	if cfg.Disabled != "" {
		cfg.Logger.Warn("KMS v2 plugin serving without keys", "socket", cfg.Socket, "reason", cfg.Disabled)
	} else {
		cfg.Logger.Info("KMS v2 plugin serving", "socket", cfg.Socket, "primaryKey", cfg.Keys.Primary, "keys", len(cfg.Keys.Keys))
	}
	stopped := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(stopGrace, gs.Stop)
		gs.GracefulStop()
		t.Stop()
	})
	defer stopped()
	if err := gs.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("serving KMS plugin: %w", err)
	}
	return nil
}
