package backup

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cellplane/cellplane/internal/backup/envelope"
	"github.com/cellplane/cellplane/internal/backup/objstore"
	"github.com/cellplane/cellplane/test/framework/minio"
)

// TestPutFullInPartsOnS3 takes a full backup larger than the store's multipart
// threshold into a real MinIO: the streamed snapshot is spooled with a known
// size, uploaded in parts, verified by reading it back, and restores intact.
func TestPutFullInPartsOnS3(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bins, err := minio.Binaries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := minio.Start(t, bins)
	cfg := m.StoreConfig("cellplane")
	cfg.MultipartThreshold, cfg.MultipartPartSize = 5<<20, 5<<20
	store, err := objstore.NewS3(cfg)
	if err != nil {
		t.Fatal(err)
	}
	kms, err := envelope.NewLocalKMS(filepath.Join(t.TempDir(), "backup-kek"))
	if err != nil {
		t.Fatal(err)
	}
	set := New(store, kms, Ref{Namespace: "acct-1", Name: "demo", UID: "uid-1"})
	set.TempDir = t.TempDir()

	// Random bytes do not compress: the sealed object stays above two parts.
	snapshot := make([]byte, 12<<20)
	_, _ = rand.NewChaCha8([32]byte{7}).Read(snapshot)
	e, err := set.PutFull(ctx, func(w io.Writer) (int64, error) {
		_, err := io.Copy(w, bytes.NewReader(snapshot)) // a stream, as etcd's snapshot is
		return 42, err
	})
	if err != nil {
		t.Fatal(err)
	}

	head, err := m.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(m.Bucket), Key: aws.String("cellplane/" + set.Prefix() + e.Key)})
	if err != nil {
		t.Fatal(err)
	}
	etag := strings.Trim(aws.ToString(head.ETag), `"`)
	if !strings.HasSuffix(etag, "-3") || aws.ToInt64(head.ContentLength) != e.Size {
		t.Errorf("stored full: ETag %s, %d bytes; want three parts (ETag suffix -3) of %d bytes", etag, aws.ToInt64(head.ContentLength), e.Size)
	}
	got, err := set.ReadAll(ctx, e)
	if err != nil || !bytes.Equal(got, snapshot) {
		t.Fatalf("ReadAll(full) = %d bytes, %v; want the %d bytes taken", len(got), err, len(snapshot))
	}
}
