package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/cellplane/cellplane/internal/errdefs"
)

// multipartConcurrency is how many parts upload at once. transfermanager holds
// one buffer of a part for each, plus one being filled and the first part read,
// so with the default 16 MiB parts a Put holds about 100 MiB; more would not
// speed a backup whose limit is the host's link.
const multipartConcurrency = 4

// abortTimeout bounds aborting a failed upload, which runs even when the Put's
// context has ended: an upload left open keeps its parts stored, and billed,
// until someone aborts it or a lifecycle rule does.
const abortTimeout = time.Minute

// newUploader returns the multipart uploader: transfermanager, the SDK's
// current one (feature/s3/manager is deprecated in its favour).
func newUploader(client *s3.Client, partSize int64) *transfermanager.Client {
	return transfermanager.New(client, func(o *transfermanager.Options) {
		o.PartSizeBytes = partSize
		// transfermanager reads up to its threshold into memory before it
		// decides; Put has decided already, so one part is enough to read.
		o.MultipartUploadThreshold = partSize
		o.Concurrency = multipartConcurrency
		// Abort on a fresh context, so a canceled Put still cleans up.
		o.FailTimeout = abortTimeout
	})
}

// putMultipart uploads the next size bytes of r in parts. Each part carries a
// CRC32 checksum that the server verifies (transfermanager's default, as the
// SDK's is for PutObject), and the object appears only when
// CompleteMultipartUpload succeeds, so readers see the old object or the whole
// new one. A body shorter or longer than size fails the upload before it
// completes, and a failed upload is aborted so no parts are left behind.
func (s *S3) putMultipart(ctx context.Context, key, full string, r io.Reader, size int64) error {
	_, err := s.uploader.UploadObject(ctx, &transfermanager.UploadObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(full),
		// Not the caller's seeker: transfermanager would take the seeker's
		// length for the size and upload whatever it holds.
		Body:          &exactReader{r: r, size: size},
		ContentLength: aws.Int64(size),
	})
	if err == nil {
		return nil
	}
	// transfermanager (v0.5.7) aborts a failed upload itself but keeps only the
	// upload's first error, dropping the abort's: abort again to know that the
	// upload is gone. S3 answers NoSuchUpload once it is.
	var mpu transfermanager.MultipartUploadError
	if errors.As(err, &mpu) {
		if aerr := s.abort(ctx, full, mpu.UploadID()); aerr != nil {
			err = fmt.Errorf("%w (and aborting it failed, so its parts may be left in the bucket: %w)", err, aerr)
		}
	}
	// A canceled Put must read as canceled, but transfermanager reports a
	// failed abort of its own with %v, which hides the cancellation.
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		err = fmt.Errorf("%w: %w", cerr, err)
	}
	return s3Error(fmt.Sprintf("storing object %q in parts", key), err)
}

// abort ends the multipart upload uploadID of full, if it is still open.
func (s *S3) abort(ctx context.Context, full, uploadID string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket:   aws.String(s.bucket),
		Key:      aws.String(full),
		UploadId: aws.String(uploadID),
	})
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorCode() == "NoSuchUpload" {
		return nil
	}
	return err
}

// exactReader passes on exactly size bytes of r and fails, instead of ending,
// when r holds fewer or more. transfermanager uploads whatever its body yields,
// so without it a short spool file would be stored as a short object.
type exactReader struct {
	r          io.Reader
	size, read int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.read == e.size {
		return 0, e.atEnd()
	}
	if left := e.size - e.read; int64(len(p)) > left {
		p = p[:left]
	}
	n, err := e.r.Read(p)
	e.read += int64(n)
	if err == io.EOF {
		if e.read < e.size {
			return n, fmt.Errorf("%w: body has %d bytes, size says %d", errdefs.ErrInvalidParameter, e.read, e.size)
		}
		err = nil // the next Read checks that nothing follows
	}
	return n, err
}

// atEnd returns io.EOF if r is exhausted too, and an error if it holds more.
func (e *exactReader) atEnd() error {
	var b [1]byte
	n, err := io.ReadFull(e.r, b[:])
	switch {
	case n > 0:
		return fmt.Errorf("%w: body has more than %d bytes, size says %d", errdefs.ErrInvalidParameter, e.size, e.size)
	case err == io.EOF:
		return io.EOF
	default:
		return err
	}
}
