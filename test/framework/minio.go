package framework

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cellplane/cellplane/internal/backup/objstore"
	"github.com/cellplane/cellplane/internal/components"
)

var (
	minioOnce sync.Once
	minioBins components.MinIOBinaries
	minioErr  error
)

// MinIOBinaries returns the cached MinIO server, building it on first use on the
// machine (minutes; hack/test.sh builds it beforehand with --with-minio). It runs
// once per test binary.
func MinIOBinaries(ctx context.Context) (components.MinIOBinaries, error) {
	minioOnce.Do(func() {
		minioBins, minioErr = components.New(components.Config{Progress: os.Stderr}).MinIO(ctx)
	})
	return minioBins, minioErr
}

// nextMinIO numbers the MinIO servers of a test binary. Each gets its own address
// in 127.231.0.0/16: the third octet from the process ID, so test binaries running
// side by side (go test ./test/...) do not collide, the fourth counting up.
var nextMinIO atomic.Int32

// MinIO is one `minio server` under test, on its own loopback address and a fresh
// data directory, with one bucket made.
type MinIO struct {
	T        testing.TB
	Endpoint string // "http://127.231.x.y:9000"
	Console  string // "127.231.x.y:9001"
	DataDir  string
	Region   string
	Bucket   string
	// AccessKey and SecretKey are the root user's.
	AccessKey, SecretKey string

	cmd  *exec.Cmd
	log  lockedBuffer
	done chan struct{} // closed when the process has exited
}

// StartMinIO starts MinIO, waits until it is ready, makes the bucket and registers
// a cleanup that ends the process by PID before its files are removed.
func StartMinIO(t testing.TB, bins components.MinIOBinaries) *MinIO {
	t.Helper()
	n := nextMinIO.Add(1)
	ip := fmt.Sprintf("127.231.%d.%d", os.Getpid()%256, 1+(n-1)%254)
	m := &MinIO{
		T:         t,
		Endpoint:  "http://" + ip + ":9000",
		Console:   ip + ":9001",
		DataDir:   t.TempDir(), // before the cleanup below, so removed after it
		Region:    "us-east-1", // MinIO's default
		Bucket:    "cellplane-test",
		AccessKey: "cellplane",
		SecretKey: "cellplane-test-secret",
		done:      make(chan struct{}),
	}
	m.cmd = exec.Command(bins.MinIO, "server",
		"--address", ip+":9000", "--console-address", m.Console,
		"--certs-dir", filepath.Join(m.DataDir, "certs"), "--quiet", filepath.Join(m.DataDir, "data"))
	m.cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+m.AccessKey,
		"MINIO_ROOT_PASSWORD="+m.SecretKey,
		"MINIO_UPDATE=off", // no update checks: tests reach nothing off this machine
		"MINIO_CI_CD=on",   // accept a data directory on the root disk
	)
	m.cmd.Stdout, m.cmd.Stderr = &m.log, &m.log
	if err := m.cmd.Start(); err != nil {
		t.Fatalf("starting minio: %v", err)
	}
	go func() { _ = m.cmd.Wait(); close(m.done) }()
	t.Cleanup(m.stop)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := m.waitReady(ctx); err != nil {
		t.Fatalf("minio did not become ready: %v\n%s", err, m.Log())
	}
	if _, err := m.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(m.Bucket)}); err != nil {
		t.Fatalf("creating bucket %s: %v\n%s", m.Bucket, err, m.Log())
	}
	return m
}

func (m *MinIO) waitReady(ctx context.Context) error {
	return Eventually(ctx, 2*time.Minute, 100*time.Millisecond, func() error {
		if m.exited() {
			return Permanent(fmt.Errorf("minio exited: %v", m.cmd.ProcessState))
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.Endpoint+"/minio/health/ready", nil)
		if err != nil {
			return Permanent(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		_ = resp.Body.Close() // only the status is wanted; the body is not read
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readiness answered %s", resp.Status)
		}
		return nil
	})
}

func (m *MinIO) exited() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

// PID is the process ID of the server.
func (m *MinIO) PID() int { return m.cmd.Process.Pid }

// Log returns what the server printed.
func (m *MinIO) Log() string { return m.log.String() }

// Client returns an S3 client of the root user.
func (m *MinIO) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       m.Region,
		BaseEndpoint: aws.String(m.Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(m.AccessKey, m.SecretKey, ""),
		UsePathStyle: true,
	})
}

// StoreConfig returns the configuration of an objstore.S3 in the bucket under prefix.
func (m *MinIO) StoreConfig(prefix string) objstore.S3Config {
	return objstore.S3Config{
		Endpoint:        m.Endpoint,
		Region:          m.Region,
		Bucket:          m.Bucket,
		Prefix:          prefix,
		AccessKeyID:     m.AccessKey,
		SecretAccessKey: m.SecretKey,
		UsePathStyle:    true,
	}
}

// stop ends the server by PID: SIGTERM, then SIGKILL if it has not exited after a
// grace period. Its data is about to be removed, so nothing is worth waiting long.
func (m *MinIO) stop() {
	if m.exited() {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
		return
	case <-time.After(10 * time.Second):
	}
	_ = m.cmd.Process.Kill()
	select {
	case <-m.done:
	case <-time.After(30 * time.Second):
		m.T.Errorf("minio (PID %d) did not exit after SIGKILL", m.PID())
	}
}

// lockedBuffer collects a process's output while tests read it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
