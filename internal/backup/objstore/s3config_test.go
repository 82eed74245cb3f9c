package objstore

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/cellplane/cellplane/internal/errdefs"
)

func TestS3ConfigMultipartLimits(t *testing.T) {
	base := S3Config{Region: "us-east-1", Bucket: "b", AccessKeyID: "k", SecretAccessKey: "s"}
	tests := []struct {
		name            string
		threshold, part int64
		ok              bool
	}{
		{"defaults", 0, 0, true},
		{"smallest parts, threshold one part", 5 << 20, 5 << 20, true},
		{"largest single put", 5 << 30, 0, true},
		{"parts below S3's 5 MiB", 0, 5<<20 - 1, false},
		{"parts above S3's 5 GiB", 6 << 30, 5<<30 + 1, false},
		{"threshold below a part", 8 << 20, 16 << 20, false},
		{"threshold above one PutObject", 5<<30 + 1, 0, false},
		{"default threshold below a part", 0, 128 << 20, false},
		{"negative threshold", -1, 0, false},
		{"negative part size", 0, -1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			c.MultipartThreshold, c.MultipartPartSize = tt.threshold, tt.part
			err := c.Validate()
			if tt.ok && err != nil {
				t.Fatalf("Validate = %v, want nil", err)
			}
			if !tt.ok && !errors.Is(err, errdefs.ErrInvalidParameter) {
				t.Fatalf("Validate = %v, want ErrInvalidParameter", err)
			}
		})
	}
}

func TestExactReader(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		size    int64
		wantErr bool
	}{
		{"exact", "0123456789", 10, false},
		{"empty", "", 0, false},
		{"short", "01234", 10, true},
		{"long", "0123456789abc", 10, true},
		{"one byte long", "0123456789a", 10, true},
		{"anything for nothing", "x", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// OneByteReader and DataErrReader give the reads real bodies give:
			// short ones, and data with io.EOF on the last.
			for _, r := range []io.Reader{
				strings.NewReader(tt.body),
				iotest.OneByteReader(strings.NewReader(tt.body)),
				iotest.DataErrReader(strings.NewReader(tt.body)),
			} {
				got, err := io.ReadAll(&exactReader{r: r, size: tt.size})
				if tt.wantErr {
					if !errors.Is(err, errdefs.ErrInvalidParameter) {
						t.Errorf("%T: ReadAll = %q, %v; want ErrInvalidParameter", r, got, err)
					}
					continue
				}
				if err != nil || string(got) != tt.body {
					t.Errorf("%T: ReadAll = %q, %v; want %q", r, got, err, tt.body)
				}
			}
		})
	}
}
