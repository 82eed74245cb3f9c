package framework

import (
	"context"
	"testing"

	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/test/framework/minio"
)

// MinIO is one `minio server` under test; package minio starts it.
type MinIO = minio.Server

// MinIOBinaries returns the cached MinIO server, building it on first use on the
// machine (minutes; hack/test.sh builds it beforehand with --with-minio). It runs
// once per test binary.
func MinIOBinaries(ctx context.Context) (components.MinIOBinaries, error) {
	return minio.Binaries(ctx)
}

// StartMinIO starts MinIO, waits until it is ready, makes the bucket and registers
// a cleanup that ends the process by PID before its files are removed.
func StartMinIO(t testing.TB, bins components.MinIOBinaries) *MinIO {
	t.Helper()
	return minio.Start(t, bins)
}
