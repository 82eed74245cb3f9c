package objstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cellplane/cellplane/internal/backup/envelope"
	"github.com/cellplane/cellplane/internal/backup/objstore"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/test/framework/minio"
)

// TestS3 runs the S3 store against a real MinIO: every subtest works under its
// own prefix of one bucket. It was TestObjectStoreS3 of the e2e suite, moved
// here since it needs no cellplane binary, only this package and MinIO.
func TestS3(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	mbins, err := minio.Binaries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := minio.Start(t, mbins)

	t.Run("put get stat replace", func(t *testing.T) {
		s := newS3(t, m.StoreConfig("roundtrip"))
		start := time.Now().Add(-time.Minute)
		putString(ctx, t, s, "clusters/c1/snapshot", "first")
		putString(ctx, t, s, "empty", "")
		if got := getString(ctx, t, s, "clusters/c1/snapshot"); got != "first" {
			t.Fatalf("Get = %q, want first", got)
		}
		if got := getString(ctx, t, s, "empty"); got != "" {
			t.Fatalf("Get(empty) = %q", got)
		}
		putString(ctx, t, s, "clusters/c1/snapshot", "second, longer")
		o, err := s.Stat(ctx, "clusters/c1/snapshot")
		if err != nil {
			t.Fatal(err)
		}
		if o.Key != "clusters/c1/snapshot" || o.Size != int64(len("second, longer")) || o.Modified.Before(start) || o.Modified.After(time.Now().Add(time.Minute)) {
			t.Fatalf("Stat = %+v", o)
		}
		if got := getString(ctx, t, s, "clusters/c1/snapshot"); got != "second, longer" {
			t.Fatalf("Get after replace = %q", got)
		}
		// The prefix is a folder of the bucket, invisible in the store's keys.
		raw := rawKeys(ctx, t, m, "roundtrip/")
		if !slices.Equal(raw, []string{"roundtrip/clusters/c1/snapshot", "roundtrip/empty"}) {
			t.Fatalf("bucket holds %q", raw)
		}
	})

	t.Run("create is exclusive", func(t *testing.T) {
		testCreate(ctx, t, newS3(t, m.StoreConfig("create")))
	})

	t.Run("list pages and sorts", func(t *testing.T) {
		cfg := m.StoreConfig("list")
		cfg.ListPageSize = 3 // ten keys take four pages
		s := newS3(t, cfg)
		want := []string{"a-c", "a/b", "a/c/d", "b", "c/1", "c/10", "c/2", "d", "e/f", "zz"}
		for _, k := range slices.Backward(want) {
			putString(ctx, t, s, k, "value of "+k)
		}
		for _, tc := range []struct {
			prefix string
			want   []string
		}{
			{"", want},
			{"a", []string{"a-c", "a/b", "a/c/d"}},
			{"a/", []string{"a/b", "a/c/d"}},
			{"c/1", []string{"c/1", "c/10"}},
			{"nothing/", nil},
		} {
			objs, err := s.List(ctx, tc.prefix)
			if err != nil {
				t.Fatalf("List(%q): %v", tc.prefix, err)
			}
			var got []string
			for _, o := range objs {
				got = append(got, o.Key)
				if o.Size != int64(len("value of "+o.Key)) || o.Modified.IsZero() {
					t.Errorf("List(%q) gives %+v", tc.prefix, o)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("List(%q) = %q, want %q", tc.prefix, got, tc.want)
			}
		}
		// A store under another prefix of the same bucket sees none of them.
		other := newS3(t, m.StoreConfig("list-other"))
		if objs, err := other.List(ctx, ""); err != nil || len(objs) != 0 {
			t.Fatalf("another prefix lists %v, %v", objs, err)
		}
	})

	t.Run("not found and delete", func(t *testing.T) {
		s := newS3(t, m.StoreConfig("delete"))
		if _, err := s.Get(ctx, "missing"); !errors.Is(err, errdefs.ErrNotFound) {
			t.Fatalf("Get(missing) = %v, want ErrNotFound", err)
		}
		if _, err := s.Stat(ctx, "missing"); !errors.Is(err, errdefs.ErrNotFound) {
			t.Fatalf("Stat(missing) = %v, want ErrNotFound", err)
		}
		if err := s.Delete(ctx, "missing"); err != nil {
			t.Fatalf("Delete(missing) = %v, want nil", err)
		}
		putString(ctx, t, s, "doomed", "x")
		putString(ctx, t, s, "kept", "y")
		if err := s.Delete(ctx, "doomed"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "doomed"); !errors.Is(err, errdefs.ErrNotFound) {
			t.Fatalf("Get after Delete = %v, want ErrNotFound", err)
		}
		if got := rawKeys(ctx, t, m, "delete/"); !slices.Equal(got, []string{"delete/kept"}) {
			t.Fatalf("bucket holds %q after Delete", got)
		}
	})

	t.Run("bad input changes nothing", func(t *testing.T) {
		s := newS3(t, m.StoreConfig("bad"))
		putString(ctx, t, s, "keep", "safe")
		for _, key := range []string{"", "/abs", "../escape", "a//b", "nul\x00"} {
			if err := s.Put(ctx, key, strings.NewReader("x"), 1); !errors.Is(err, errdefs.ErrInvalidParameter) {
				t.Errorf("Put(%q) = %v, want ErrInvalidParameter", key, err)
			}
		}
		if err := s.Put(ctx, "short-body", strings.NewReader("five!"), 10); err == nil {
			t.Error("Put of a body shorter than its size succeeded")
		}
		if _, err := s.List(ctx, "../"); !errors.Is(err, errdefs.ErrInvalidParameter) {
			t.Errorf("List(../) = %v, want ErrInvalidParameter", err)
		}
		if _, err := s.Stat(ctx, "short-body"); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("Stat after a short-bodied Put = %v, want ErrNotFound", err)
		}
		// Every key of this store, good or bad, would land under "bad/".
		if got := rawKeys(ctx, t, m, "bad/"); !slices.Equal(got, []string{"bad/keep"}) {
			t.Fatalf("rejected puts reached the bucket: %q", got)
		}
		if _, err := objstore.NewS3(objstore.S3Config{Endpoint: m.Endpoint, Region: "us-east-1"}); !errors.Is(err, errdefs.ErrInvalidParameter) {
			t.Errorf("NewS3 without bucket or credentials = %v, want ErrInvalidParameter", err)
		}
	})

	t.Run("envelope-encrypted backup round trip", func(t *testing.T) {
		s := newS3(t, m.StoreConfig("sealed"))
		testEnvelopeRoundTrip(ctx, t, m, s)
	})

	t.Run("server down is unavailable", func(t *testing.T) {
		cfg := m.StoreConfig("down")
		cfg.Endpoint = "http://127.231.255.254:9" // nothing listens there
		s := newS3(t, cfg)
		sctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if _, err := s.Stat(sctx, "any"); !errors.Is(err, errdefs.ErrUnavailable) {
			t.Fatalf("Stat against a closed port = %v, want ErrUnavailable", err)
		}
	})

	testMultipart(ctx, t, m)
}

// testEnvelopeRoundTrip does what a backup and a restore do: wrap a cluster's data
// key, seal a snapshot into a spool file while hashing the ciphertext, upload both,
// then download, unwrap and open.
func testEnvelopeRoundTrip(ctx context.Context, t *testing.T, m *minio.Server, s objstore.Store) {
	kms, err := envelope.NewLocalKMS(filepath.Join(t.TempDir(), "kek"))
	if err != nil {
		t.Fatal(err)
	}
	dataKey := envelope.NewDataKey()
	wrapped, err := kms.Wrap(ctx, dataKey)
	if err != nil {
		t.Fatal(err)
	}
	putString(ctx, t, s, "clusters/c1/datakey", string(wrapped))

	// Random values keep the compressed snapshot above one 1 MiB chunk.
	var plain bytes.Buffer
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := 0; plain.Len() < 8<<20; i++ {
		fmt.Fprintf(&plain, "/registry/configmaps/default/cm-%d\x00{\"data\":{\"v\":\"%016x%016x\"}}\n", i, rnd.Uint64(), rnd.Uint64())
	}
	spool, err := os.Create(filepath.Join(t.TempDir(), "snapshot.spool"))
	if err != nil {
		t.Fatal(err)
	}
	defer spool.Close()
	hw := envelope.NewHashWriter(spool)
	w := envelope.NewWriter(hw, dataKey, []byte("clusters/c1/snap-1"))
	if _, err := io.Copy(w, bytes.NewReader(plain.Bytes())); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if hw.Len() <= envelope.ChunkSize {
		t.Fatalf("sealed snapshot is %d bytes, want more than one chunk", hw.Len())
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "clusters/c1/snap-1", spool, hw.Len()); err != nil {
		t.Fatal(err)
	}

	// What the bucket holds is the ciphertext the writer hashed, and no plaintext.
	out, err := m.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(m.Bucket), Key: aws.String("sealed/clusters/c1/snap-1")})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := io.ReadAll(out.Body)
	out.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(stored); !bytes.Equal(sum[:], hw.Sum()) || int64(len(stored)) != hw.Len() {
		t.Fatalf("stored object (%d bytes) differs from the %d bytes hashed while sealing", len(stored), hw.Len())
	}
	if bytes.Contains(stored, []byte("/registry/configmaps")) {
		t.Fatal("stored object contains plaintext")
	}

	// Restore: the wrapped key and the snapshot come back from S3.
	gotKey, err := kms.Unwrap(ctx, []byte(getString(ctx, t, s, "clusters/c1/datakey")))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := s.Get(ctx, "clusters/c1/snap-1")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	r, err := envelope.NewReader(rc, gotKey, []byte("clusters/c1/snap-1"))
	if err != nil {
		t.Fatal(err)
	}
	restored, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(restored, plain.Bytes()) {
		t.Fatalf("restored %d bytes differ from the %d sealed", len(restored), plain.Len())
	}

	// A copy altered in the bucket fails to open.
	stored[len(stored)/2] ^= 1
	if err := s.Put(ctx, "clusters/c1/snap-tampered", bytes.NewReader(stored), int64(len(stored))); err != nil {
		t.Fatal(err)
	}
	rc2, err := s.Get(ctx, "clusters/c1/snap-tampered")
	if err != nil {
		t.Fatal(err)
	}
	defer rc2.Close()
	r2, err := envelope.NewReader(rc2, gotKey, []byte("clusters/c1/snap-1"))
	if err == nil {
		_, err = io.ReadAll(r2)
	}
	if !errors.Is(err, envelope.ErrCorrupt) {
		t.Fatalf("opening a tampered object = %v, want ErrCorrupt", err)
	}
}

func newS3(t *testing.T, cfg objstore.S3Config) *objstore.S3 {
	t.Helper()
	s, err := objstore.NewS3(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func putString(ctx context.Context, t *testing.T, s objstore.Store, key, body string) {
	t.Helper()
	if err := s.Put(ctx, key, strings.NewReader(body), int64(len(body))); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func getString(ctx context.Context, t *testing.T, s objstore.Store, key string) string {
	t.Helper()
	return string(getBytes(ctx, t, s, key))
}

func getBytes(ctx context.Context, t *testing.T, s objstore.Store, key string) []byte {
	t.Helper()
	rc, err := s.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %q: %v", key, err)
	}
	return b
}

// rawKeys lists the bucket under prefix with the SDK directly, bypassing the store.
func rawKeys(ctx context.Context, t *testing.T, m *minio.Server, prefix string) []string {
	t.Helper()
	out, err := m.Client().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(m.Bucket), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}
