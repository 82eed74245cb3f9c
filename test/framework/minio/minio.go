// Package minio starts real MinIO servers for tests: built once into the component
// cache, each on its own loopback address and data directory with one bucket made,
// and ended by PID when the test cleans up. It stands apart from package framework
// so that objstore's own tests can run against MinIO without importing the whole
// end-to-end harness; those tests are an external package (objstore_test), since
// this one imports objstore.
package minio

import (
	"context"
	"errors"
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
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/cellplane/cellplane/internal/backup/objstore"
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/poll"
)

var (
	binsOnce sync.Once
	bins     components.MinIOBinaries
	binsErr  error
)

// Binaries returns the cached MinIO server, building it on first use on the
// machine (minutes; hack/test.sh builds it beforehand with --with-minio). It runs
// once per test binary.
func Binaries(ctx context.Context) (components.MinIOBinaries, error) {
	binsOnce.Do(func() {
		bins, binsErr = components.New(components.Config{Progress: os.Stderr}).MinIO(ctx)
	})
	return bins, binsErr
}

// next numbers the servers of a test binary. Each gets its own address in
// 127.231.0.0/16: the third octet from the process ID, so test binaries running
// side by side (go test ./...) do not collide, the fourth counting up.
var next atomic.Int32

// Server is one `minio server` under test, on its own loopback address and a
// fresh data directory, with one bucket made.
type Server struct {
	T        testing.TB
	Endpoint string // "http://127.231.x.y:9000"
	Console  string // "127.231.x.y:9001"
	DataDir  string
	Region   string
	Bucket   string
	// AccessKey and SecretKey are the root user's.
	AccessKey, SecretKey string

	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited
}

// Start starts MinIO, waits until it is ready, makes the bucket and registers a
// cleanup that ends the process by PID before its files are removed.
func Start(t testing.TB, bins components.MinIOBinaries) *Server {
	t.Helper()
	n := next.Add(1)
	ip := fmt.Sprintf("127.231.%d.%d", os.Getpid()%256, 1+(n-1)%254)
	m := &Server{
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
	m.logPath = filepath.Join(m.DataDir, "minio.log")
	if err := m.start(bins, ip); err != nil {
		t.Fatalf("starting minio: %v", err)
	}
	t.Cleanup(m.stop)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := m.waitReady(ctx); err != nil {
		t.Fatalf("minio did not become ready: %v\n%s", err, m.Log())
	}
	if err := m.makeBucket(ctx); err != nil {
		t.Fatalf("creating bucket %s: %v\n%s", m.Bucket, err, m.Log())
	}
	return m
}

func (m *Server) start(bins components.MinIOBinaries, ip string) error {
	log, err := os.Create(m.logPath)
	if err != nil {
		return err
	}
	defer log.Close() //nolint:errcheck // the child has its own copy
	m.cmd = exec.Command(bins.MinIO, "server",
		"--address", ip+":9000", "--console-address", m.Console,
		"--certs-dir", filepath.Join(m.DataDir, "certs"), "--quiet", filepath.Join(m.DataDir, "data"))
	m.cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+m.AccessKey,
		"MINIO_ROOT_PASSWORD="+m.SecretKey,
		"MINIO_UPDATE=off", // no update checks: tests reach nothing off this machine
		"MINIO_CI_CD=on",   // accept a data directory on the root disk
	)
	m.cmd.Stdout, m.cmd.Stderr = log, log
	if err := m.cmd.Start(); err != nil {
		return err
	}
	go func() { _ = m.cmd.Wait(); close(m.done) }()
	return nil
}

func (m *Server) waitReady(ctx context.Context) error {
	return poll.Until(ctx, 2*time.Minute, 100*time.Millisecond, func() error {
		if m.exited() {
			return poll.Permanent(fmt.Errorf("minio exited: %v", m.cmd.ProcessState))
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.Endpoint+"/minio/health/ready", nil)
		if err != nil {
			return poll.Permanent(err)
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

// makeBucket creates the bucket. MinIO can report itself ready and still answer
// 503 XMinioServerNotInitialized for a while on a busy machine, so a 503 is
// retried; BucketAlreadyOwnedByYou means an earlier try got through.
func (m *Server) makeBucket(ctx context.Context) error {
	c := m.Client()
	return poll.Until(ctx, 2*time.Minute, 100*time.Millisecond, func() error {
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(m.Bucket)})
		var owned *types.BucketAlreadyOwnedByYou
		var resp *awshttp.ResponseError
		switch {
		case err == nil, errors.As(err, &owned):
			return nil
		case errors.As(err, &resp) && resp.HTTPStatusCode() == http.StatusServiceUnavailable:
			return err
		}
		return poll.Permanent(err)
	})
}

func (m *Server) exited() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

// PID is the process ID of the server.
func (m *Server) PID() int { return m.cmd.Process.Pid }

// Log returns what the server printed.
func (m *Server) Log() string {
	b, err := os.ReadFile(m.logPath)
	if err != nil {
		return fmt.Sprintf("(reading the minio log: %v)", err)
	}
	return string(b)
}

// Client returns an S3 client of the root user.
func (m *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       m.Region,
		BaseEndpoint: aws.String(m.Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(m.AccessKey, m.SecretKey, ""),
		UsePathStyle: true,
	})
}

// StoreConfig returns the configuration of an objstore.S3 in the bucket under prefix.
func (m *Server) StoreConfig(prefix string) objstore.S3Config {
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
func (m *Server) stop() {
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
