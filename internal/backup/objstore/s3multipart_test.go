package objstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cellplane/cellplane/internal/backup/objstore"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/poll"
	"github.com/cellplane/cellplane/test/framework/minio"
)

// Multipart settings small enough for a test: 5 MiB parts (S3's smallest) from
// 5 MiB on, so a 12 MiB object goes in three parts, the last one short.
const (
	testPart       = 5 << 20
	testObjectSize = 12<<20 + 4321
)

// testMultipart runs, against the MinIO of TestS3, the uploads that S3 caps a
// single PutObject for: large backups go in parts, and a failed one leaves
// nothing behind.
func testMultipart(ctx context.Context, t *testing.T, m *minio.Server) {
	body := randomBytes(testObjectSize)

	t.Run("multipart upload in parts reads back identical", func(t *testing.T) {
		putString(ctx, t, newS3(t, m.StoreConfig("mp")), "full/1", "an older, smaller backup")
		w := &wire{}
		s := newS3(t, multipartConfig(m, "mp", w))
		if err := s.Put(ctx, "full/1", bytes.NewReader(body), int64(len(body))); err != nil {
			t.Fatal(err)
		}
		if got := w.partNumbers(); !slices.Equal(got, []string{"1", "2", "3"}) {
			t.Errorf("parts uploaded: %q, want 1, 2 and 3", got)
		}
		for op, want := range map[string]int{"CreateMultipartUpload": 1, "CompleteMultipartUpload": 1, "PutObject": 0, "AbortMultipartUpload": 0} {
			if n := w.count(op); n != want {
				t.Errorf("%s sent %d times, want %d (all: %q)", op, n, want, w.all())
			}
		}
		// S3 and MinIO give a multipart object the ETag "<md5 of part md5s>-<parts>".
		if etag := rawETag(ctx, t, m, "mp/full/1"); !strings.HasSuffix(etag, "-3") {
			t.Errorf("ETag %s does not name three parts", etag)
		}
		if o, err := s.Stat(ctx, "full/1"); err != nil || o.Size != int64(len(body)) {
			t.Errorf("Stat = %+v, %v; want %d bytes", o, err, len(body))
		}
		if got := getBytes(ctx, t, s, "full/1"); !bytes.Equal(got, body) {
			t.Errorf("read back %d bytes that differ from the %d put", len(got), len(body))
		}
		if up := pendingUploads(ctx, t, m, "mp/full/1"); len(up) != 0 {
			t.Errorf("uploads still open after success: %q", up)
		}
	})

	t.Run("the threshold chooses between one PutObject and parts", func(t *testing.T) {
		for _, tc := range []struct {
			size     int
			wantOp   string
			wantETag string // suffix; "" for none
		}{
			{testPart - 1, "PutObject", ""},
			{testPart, "CreateMultipartUpload", "-1"},
		} {
			w := &wire{}
			s := newS3(t, multipartConfig(m, "threshold", w))
			if err := s.Put(ctx, "obj", bytes.NewReader(body[:tc.size]), int64(tc.size)); err != nil {
				t.Fatalf("Put of %d bytes: %v", tc.size, err)
			}
			if w.count(tc.wantOp) != 1 {
				t.Errorf("Put of %d bytes sent %q, want one %s", tc.size, w.all(), tc.wantOp)
			}
			etag := rawETag(ctx, t, m, "threshold/obj")
			if multi := strings.Contains(etag, "-"); multi != (tc.wantETag != "") || !strings.HasSuffix(etag, tc.wantETag) {
				t.Errorf("Put of %d bytes stored ETag %s, want suffix %q", tc.size, etag, tc.wantETag)
			}
			if got := getBytes(ctx, t, s, "obj"); !bytes.Equal(got, body[:tc.size]) {
				t.Errorf("Put of %d bytes reads back differently", tc.size)
			}
		}
	})

	t.Run("pending uploads are visible to the check below", func(t *testing.T) {
		// The failure tests pass when ListMultipartUploads is empty: show that it
		// does list an upload left open, on this server and with this query.
		c := m.Client()
		out, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(m.Bucket), Key: aws.String("control/obj")})
		if err != nil {
			t.Fatal(err)
		}
		if up := pendingUploads(ctx, t, m, "control/obj"); len(up) != 1 {
			t.Fatalf("an open upload lists as %q, want one", up)
		}
		if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(m.Bucket), Key: aws.String("control/obj"), UploadId: out.UploadId}); err != nil {
			t.Fatal(err)
		}
		if up := pendingUploads(ctx, t, m, "control/obj"); len(up) != 0 {
			t.Fatalf("an aborted upload lists as %q", up)
		}
	})

	t.Run("failing half-way leaves the old object and no upload", func(t *testing.T) {
		putString(ctx, t, newS3(t, m.StoreConfig("mp-fail")), "full/1", "the old backup")
		w := &wire{}
		s := newS3(t, multipartConfig(m, "mp-fail", w))
		errDisk := errors.New("spool disk on fire")
		// Two parts' worth of data, then the error, once the server holds both.
		spool := &failingSpool{data: body[:2*testPart], err: errDisk, before: func() error { return w.waitParts(ctx, 2) }}
		err := s.Put(ctx, "full/1", spool, int64(len(body)))
		if !errors.Is(err, errDisk) {
			t.Errorf("Put from a failing spool = %v, want its error", err)
		}
		checkNothingLeft(ctx, t, m, w, "mp-fail", "the old backup")
	})

	t.Run("canceling half-way leaves the old object and no upload", func(t *testing.T) {
		putString(ctx, t, newS3(t, m.StoreConfig("mp-cancel")), "full/1", "the old backup")
		w := &wire{}
		s := newS3(t, multipartConfig(m, "mp-cancel", w))
		pctx, cancel := context.WithCancel(ctx)
		defer cancel()
		// The Put's context ends once a part is stored: the abort must not use it.
		spool := &failingSpool{data: body[:2*testPart], err: context.Canceled, before: func() error {
			err := w.waitParts(ctx, 1)
			cancel()
			return err
		}}
		if err := s.Put(pctx, "full/1", spool, int64(len(body))); !errors.Is(err, context.Canceled) {
			t.Errorf("canceled Put = %v, want context.Canceled", err)
		}
		checkNothingLeft(ctx, t, m, w, "mp-cancel", "the old backup")
	})

	t.Run("a body of the wrong size is refused before it completes", func(t *testing.T) {
		for _, n := range []int{9 << 20, len(body)} {
			putString(ctx, t, newS3(t, m.StoreConfig("mp-size")), "full/1", "the old backup")
			w := &wire{}
			s := newS3(t, multipartConfig(m, "mp-size", w))
			size := int64(len(body) - 1000) // the full body is longer than this
			err := s.Put(ctx, "full/1", bytes.NewReader(body[:n]), size)
			if !errors.Is(err, errdefs.ErrInvalidParameter) {
				t.Errorf("Put of %d bytes as %d = %v, want ErrInvalidParameter", n, size, err)
			}
			checkNothingLeft(ctx, t, m, w, "mp-size", "the old backup")
		}
	})
}

// checkNothingLeft checks that a failed multipart Put under prefix was aborted,
// left no upload open, never completed, and kept the object it would have
// replaced.
func checkNothingLeft(ctx context.Context, t *testing.T, m *minio.Server, w *wire, prefix, old string) {
	t.Helper()
	if n := w.count("CompleteMultipartUpload"); n != 0 {
		t.Errorf("a failed upload was completed (%q)", w.all())
	}
	if w.count("CreateMultipartUpload") > 0 && w.count("AbortMultipartUpload") == 0 {
		t.Errorf("a failed upload was never aborted (%q)", w.all())
	}
	if up := pendingUploads(ctx, t, m, prefix+"/full/1"); len(up) != 0 {
		t.Errorf("uploads left open: %q", up)
	}
	if got := getString(ctx, t, newS3(t, m.StoreConfig(prefix)), "full/1"); got != old {
		t.Errorf("object after the failed Put = %.40q, want %q", got, old)
	}
	if got := rawKeys(ctx, t, m, prefix+"/"); !slices.Equal(got, []string{prefix + "/full/1"}) {
		t.Errorf("bucket holds %q after the failed Put", got)
	}
}

// multipartConfig is a store under prefix with the test's part settings, whose
// requests w records.
func multipartConfig(m *minio.Server, prefix string, w *wire) objstore.S3Config {
	cfg := m.StoreConfig(prefix)
	cfg.MultipartThreshold, cfg.MultipartPartSize = testPart, testPart
	cfg.HTTPClient = &http.Client{Transport: w}
	return cfg
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.NewChaCha8([32]byte{1}).Read(b)
	return b
}

// rawETag asks the server for the ETag of key, bypassing the store.
func rawETag(ctx context.Context, t *testing.T, m *minio.Server, key string) string {
	t.Helper()
	out, err := m.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(m.Bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Trim(aws.ToString(out.ETag), `"`)
}

// pendingUploads lists the multipart uploads still open for key.
func pendingUploads(ctx context.Context, t *testing.T, m *minio.Server, key string) []string {
	t.Helper()
	out, err := m.Client().ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(m.Bucket), Prefix: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	var ups []string
	for _, u := range out.Uploads {
		ups = append(ups, aws.ToString(u.Key)+" "+aws.ToString(u.UploadId))
	}
	return ups
}

// wire is an HTTP transport that records the S3 operations a store sends, named
// from method and query as S3's API defines them, and the parts the server took.
type wire struct {
	mu    sync.Mutex
	ops   []string
	parts []string // part numbers the server answered 200 to
}

func (w *wire) RoundTrip(req *http.Request) (*http.Response, error) {
	op := s3Op(req)
	w.mu.Lock()
	w.ops = append(w.ops, op)
	w.mu.Unlock()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if op == "UploadPart" && err == nil && resp.StatusCode == http.StatusOK {
		w.mu.Lock()
		w.parts = append(w.parts, req.URL.Query().Get("partNumber"))
		w.mu.Unlock()
	}
	return resp, err
}

func s3Op(r *http.Request) string {
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodPut && q.Has("partNumber"):
		return "UploadPart"
	case r.Method == http.MethodPut:
		return "PutObject"
	case r.Method == http.MethodPost && q.Has("uploads"):
		return "CreateMultipartUpload"
	case r.Method == http.MethodPost && q.Has("uploadId"):
		return "CompleteMultipartUpload"
	case r.Method == http.MethodDelete && q.Has("uploadId"):
		return "AbortMultipartUpload"
	}
	return r.Method
}

func (w *wire) count(op string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, o := range w.ops {
		if o == op {
			n++
		}
	}
	return n
}

func (w *wire) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.ops)
}

// partNumbers are the parts the server took, sorted.
func (w *wire) partNumbers() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := slices.Clone(w.parts)
	slices.Sort(p)
	return p
}

// waitParts waits until the server has taken n parts.
func (w *wire) waitParts(ctx context.Context, n int) error {
	return poll.Until(ctx, 2*time.Minute, 10*time.Millisecond, func() error {
		if got := len(w.partNumbers()); got < n {
			return errors.New("the server holds fewer parts than awaited")
		}
		return nil
	})
}

// failingSpool hands out data, then, once before returns, fails with err, as a
// spool file on a dying disk would part-way through an upload. It cannot seek:
// a multipart Put must not need to.
type failingSpool struct {
	data   []byte
	err    error
	before func() error
}

func (f *failingSpool) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		if err := f.before(); err != nil {
			return 0, err
		}
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func (f *failingSpool) Seek(int64, int) (int64, error) { return 0, errors.New("not seekable") }

var _ io.ReadSeeker = (*failingSpool)(nil)
