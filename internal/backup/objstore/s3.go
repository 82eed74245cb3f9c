package objstore

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/cellplane/cellplane/internal/errdefs"
)

// S3Config says which bucket an S3 store uses and how to reach it.
type S3Config struct {
	// Endpoint is the server's URL, e.g. "http://127.231.0.1:9000". Empty: AWS's
	// endpoint for Region.
	Endpoint string
	// Region signs requests; S3-compatible servers usually accept "us-east-1".
	Region string
	// Bucket must exist; the store does not create it.
	Bucket string
	// Prefix, if set, is a folder in the bucket that holds every key, so one bucket
	// can serve several stores (cells, test runs).
	Prefix string
	// AccessKeyID and SecretAccessKey are static credentials.
	AccessKeyID, SecretAccessKey string
	// CAFile is a PEM bundle to trust instead of the system roots. It and HTTPClient
	// are mutually exclusive.
	CAFile string
	// HTTPClient replaces the SDK's client, e.g. to share a transport.
	HTTPClient *http.Client
	// UsePathStyle addresses the bucket as endpoint/bucket rather than as
	// bucket.endpoint: what servers on an IP address, such as MinIO, need.
	UsePathStyle bool
	// ListPageSize is the number of keys asked for per ListObjectsV2 call. Default
	// (0): the server's maximum, 1000. Tests set it small to exercise paging.
	ListPageSize int32
	// MultipartThreshold is the size from which Put uploads an object in parts
	// instead of with one PutObject, which S3 caps at 5 GiB (a full backup may
	// reach the 8 GiB etcd quota). Default (0): DefaultMultipartThreshold. At
	// most 5 GiB and at least MultipartPartSize.
	MultipartThreshold int64
	// MultipartPartSize is the size of every part but the last. Default (0):
	// DefaultMultipartPartSize. From 5 MiB (S3's smallest part) to 5 GiB (its
	// largest); Put raises it for an object that would need more than 10,000
	// parts. A multipart Put holds about six parts in memory.
	MultipartPartSize int64
}

// Multipart defaults: a full backup of a few GiB goes in a few hundred parts;
// smaller objects (every incremental, manifest and key) keep a single PutObject.
const (
	DefaultMultipartThreshold = 64 << 20
	DefaultMultipartPartSize  = 16 << 20
)

// S3's limits on parts, from its documentation ("Amazon S3 multipart upload
// limits"); MinIO applies the same.
const (
	minPartSize = 5 << 20
	maxPartSize = 5 << 30
	maxPutSize  = 5 << 30 // one PutObject
)

func (c S3Config) multipartThreshold() int64 {
	return cmp.Or(c.MultipartThreshold, DefaultMultipartThreshold)
}

func (c S3Config) multipartPartSize() int64 {
	return cmp.Or(c.MultipartPartSize, DefaultMultipartPartSize)
}

// Validate reports the first problem with the configuration, wrapping
// errdefs.ErrInvalidParameter.
func (c S3Config) Validate() error {
	switch {
	case c.Region == "":
		return fmt.Errorf("%w: S3 region is empty", errdefs.ErrInvalidParameter)
	case c.Bucket == "":
		return fmt.Errorf("%w: S3 bucket is empty", errdefs.ErrInvalidParameter)
	case c.AccessKeyID == "" || c.SecretAccessKey == "":
		return fmt.Errorf("%w: S3 access key ID and secret access key are both required", errdefs.ErrInvalidParameter)
	case c.CAFile != "" && c.HTTPClient != nil:
		return fmt.Errorf("%w: S3 CA file and HTTP client are mutually exclusive", errdefs.ErrInvalidParameter)
	case c.ListPageSize < 0 || c.ListPageSize > 1000:
		return fmt.Errorf("%w: S3 list page size %d is outside 0-1000", errdefs.ErrInvalidParameter, c.ListPageSize)
	}
	if err := c.validateMultipart(); err != nil {
		return err
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%w: S3 endpoint %q is not an http or https URL", errdefs.ErrInvalidParameter, c.Endpoint)
		}
	}
	if p := strings.Trim(c.Prefix, "/"); p != "" {
		if err := ValidateKey(p); err != nil {
			return fmt.Errorf("S3 prefix: %w", err)
		}
	}
	return nil
}

// validateMultipart checks the part settings against S3's limits: a part below
// 5 MiB is refused only when the upload completes, after every byte was sent.
func (c S3Config) validateMultipart() error {
	threshold, part := c.multipartThreshold(), c.multipartPartSize()
	switch {
	case c.MultipartThreshold < 0 || c.MultipartPartSize < 0:
		return fmt.Errorf("%w: S3 multipart threshold and part size must not be negative", errdefs.ErrInvalidParameter)
	case part < minPartSize || part > maxPartSize:
		return fmt.Errorf("%w: S3 multipart part size %d is outside 5 MiB-5 GiB", errdefs.ErrInvalidParameter, part)
	case threshold < part || threshold > maxPutSize:
		return fmt.Errorf("%w: S3 multipart threshold %d is below the part size %d or above 5 GiB", errdefs.ErrInvalidParameter, threshold, part)
	}
	return nil
}

// S3 is a Store in an S3 bucket. A Put below the multipart threshold is a single
// PutObject of a body the caller has spooled, so the SDK can sign it and rewind
// it on retries; a larger one is a multipart upload (s3multipart.go). Either way
// S3 makes the object visible whole or not at all.
type S3 struct {
	client    *s3.Client
	uploader  *transfermanager.Client
	bucket    string
	prefix    string // "" or ending in "/"
	pageSize  int32
	threshold int64
}

var _ Store = (*S3)(nil)

// NewS3 returns a Store in the configured bucket. It makes no request.
func NewS3(cfg S3Config) (*S3, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts := s3.Options{
		Region:       cfg.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, ""),
		UsePathStyle: cfg.UsePathStyle,
	}
	if cfg.Endpoint != "" {
		opts.BaseEndpoint = aws.String(cfg.Endpoint)
	}
	if cfg.HTTPClient != nil {
		opts.HTTPClient = cfg.HTTPClient
	}
	if cfg.CAFile != "" {
		c, err := caClient(cfg.CAFile)
		if err != nil {
			return nil, err
		}
		opts.HTTPClient = c
	}
	client := s3.New(opts)
	s := &S3{
		client:    client,
		uploader:  newUploader(client, cfg.multipartPartSize()),
		bucket:    cfg.Bucket,
		pageSize:  cfg.ListPageSize,
		threshold: cfg.multipartThreshold(),
	}
	if p := strings.Trim(cfg.Prefix, "/"); p != "" {
		s.prefix = p + "/"
	}
	return s, nil
}

// caClient is the SDK's default client trusting only the CAs in file.
func caClient(file string) (*awshttp.BuildableClient, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading S3 CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%w: S3 CA file %s holds no PEM certificate", errdefs.ErrInvalidParameter, file)
	}
	return awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}), nil
}

func (s *S3) key(key string) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	full := s.prefix + key
	if len(full) > MaxKeyLen {
		return "", fmt.Errorf("%w: object key %q is longer than %d bytes with the store's prefix", errdefs.ErrInvalidParameter, key, MaxKeyLen)
	}
	return full, nil
}

// Put uploads the next size bytes of r: with one PutObject below the multipart
// threshold, in parts from it on.
func (s *S3) Put(ctx context.Context, key string, r io.ReadSeeker, size int64) error {
	full, err := s.keyForSize(key, size)
	if err != nil {
		return err
	}
	if size >= s.threshold {
		return s.putMultipart(ctx, key, full, r, size)
	}
	return s.putObject(ctx, full, r, size, nil, fmt.Sprintf("storing object %q", key))
}

// keyForSize is the full key of an object of size bytes stored at key,
// refusing a key or size S3 would not take.
func (s *S3) keyForSize(key string, size int64) (string, error) {
	full, err := s.key(key)
	if err != nil {
		return "", err
	}
	if err := validateSize(key, size); err != nil {
		return "", err
	}
	return full, nil
}

// putObject stores size bytes of r at full with one PutObject, only if no
// object is there when ifNoneMatch is "*".
func (s *S3) putObject(ctx context.Context, full string, r io.ReadSeeker, size int64, ifNoneMatch *string, what string) error {
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(full),
		Body:          r,
		ContentLength: aws.Int64(size),
		IfNoneMatch:   ifNoneMatch,
	})
	return s3Error(what, err)
}

// Create is a single PutObject with If-None-Match: *, which S3 (since 2024) and
// MinIO evaluate atomically: 412 Precondition Failed if the key exists, 409
// ConditionalRequestConflict if another conditional write to it is in flight.
func (s *S3) Create(ctx context.Context, key string, r io.ReadSeeker, size int64) error {
	full, err := s.keyForSize(key, size)
	if err != nil {
		return err
	}
	if size >= s.threshold {
		return fmt.Errorf("%w: object %q of %d bytes is too large to create conditionally", errdefs.ErrInvalidParameter, key, size)
	}
	return s.putObject(ctx, full, r, size, aws.String("*"), fmt.Sprintf("creating object %q", key))
}

// Get opens the object for reading; the caller closes it.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	full, err := s.key(key)
	if err != nil {
		return nil, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(full)})
	if err != nil {
		return nil, s3Error(fmt.Sprintf("opening object %q", key), err)
	}
	return out.Body, nil
}

// Stat asks for the object's size and modification time. A HEAD response has no
// body, so a missing bucket also reads as a missing key.
func (s *S3) Stat(ctx context.Context, key string) (Object, error) {
	full, err := s.key(key)
	if err != nil {
		return Object{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(full)})
	if err != nil {
		return Object{}, s3Error(fmt.Sprintf("describing object %q", key), err)
	}
	return Object{Key: key, Size: aws.ToInt64(out.ContentLength), Modified: aws.ToTime(out.LastModified)}, nil
}

// List pages through ListObjectsV2.
func (s *S3) List(ctx context.Context, prefix string) ([]Object, error) {
	if err := ValidatePrefix(prefix); err != nil {
		return nil, err
	}
	in := &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(s.prefix + prefix)}
	pages := s3.NewListObjectsV2Paginator(s.client, in, func(o *s3.ListObjectsV2PaginatorOptions) {
		o.Limit = s.pageSize
	})
	var out []Object
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, s3Error(fmt.Sprintf("listing objects under %q", prefix), err)
		}
		for _, o := range page.Contents {
			out = append(out, Object{
				Key:      strings.TrimPrefix(aws.ToString(o.Key), s.prefix),
				Size:     aws.ToInt64(o.Size),
				Modified: aws.ToTime(o.LastModified),
			})
		}
	}
	// S3 lists in UTF-8 byte order already; sorting keeps the contract for servers
	// that merely claim compatibility.
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Delete removes the object; S3 answers a delete of a missing key with success.
func (s *S3) Delete(ctx context.Context, key string) error {
	full, err := s.key(key)
	if err != nil {
		return err
	}
	_, err = s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(full)})
	return s3Error(fmt.Sprintf("deleting object %q", key), err)
}

// s3Error maps a missing key to errdefs.ErrNotFound, and a server that did not
// answer, or answered 5xx after the SDK's retries, to errdefs.ErrUnavailable, so
// callers can tell "no backup" from "try again later".
func s3Error(doing string, err error) error {
	if err == nil {
		return nil
	}
	var api smithy.APIError
	var resp *awshttp.ResponseError
	var nerr net.Error
	switch {
	case errors.As(err, &api) && (api.ErrorCode() == "NoSuchKey" || api.ErrorCode() == "NotFound"):
		return fmt.Errorf("%s: %w", doing, errdefs.ErrNotFound)
	case errors.As(err, &api) && (api.ErrorCode() == "PreconditionFailed" || api.ErrorCode() == "ConditionalRequestConflict"):
		return fmt.Errorf("%s: %w", doing, ErrExists)
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w", doing, err)
	case errors.As(err, &resp) && resp.HTTPStatusCode() >= 500, errors.As(err, &nerr):
		return fmt.Errorf("%s: %w: %w", doing, errdefs.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", doing, err)
}
