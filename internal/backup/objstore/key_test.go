package objstore

import (
	"errors"
	"strings"
	"testing"

	"github.com/cellplane/cellplane/internal/errdefs"
)

func TestValidateKey(t *testing.T) {
	for _, tc := range []struct {
		key string
		ok  bool
	}{
		{"a", true},
		{"clusters/c-1/snapshots/000042.db.zst.enc", true},
		{"a..b/c.", true},
		{"ünïcode/ключ", true},
		{"with space/and:colon", true},
		{strings.Repeat("k", MaxKeyLen), true},
		{"", false},
		{strings.Repeat("k", MaxKeyLen+1), false},
		{"/a", false},
		{"..", false},
		{"../a", false},
		{"a/../b", false},
		{"a/..", false},
		{".", false},
		{"./a", false},
		{"a/./b", false},
		{"a//b", false},
		{"a/", false},
		{"a\x00b", false},
		{"bad\xffutf8", false},
	} {
		err := ValidateKey(tc.key)
		if tc.ok && err != nil {
			t.Errorf("ValidateKey(%.40q) = %v, want nil", tc.key, err)
		}
		if !tc.ok && !errors.Is(err, errdefs.ErrInvalidParameter) {
			t.Errorf("ValidateKey(%.40q) = %v, want ErrInvalidParameter", tc.key, err)
		}
	}
}

func TestValidatePrefix(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		ok     bool
	}{
		{"", true},
		{"a", true},
		{"a/", true},
		{"a/b", true},
		{"clusters/c-1/snap", true},
		{"/", false},
		{"/a", false},
		{"a//", false},
		{"../", false},
		{"a/../", false},
		{"a/..", false},
		{"./", false},
		{"a\x00", false},
		{strings.Repeat("p", MaxKeyLen+1), false},
	} {
		err := ValidatePrefix(tc.prefix)
		if tc.ok && err != nil {
			t.Errorf("ValidatePrefix(%q) = %v, want nil", tc.prefix, err)
		}
		if !tc.ok && !errors.Is(err, errdefs.ErrInvalidParameter) {
			t.Errorf("ValidatePrefix(%q) = %v, want ErrInvalidParameter", tc.prefix, err)
		}
	}
}
