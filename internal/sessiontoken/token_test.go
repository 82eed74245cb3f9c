package sessiontoken

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cellplane/cellplane/internal/sigv4"
)

var (
	t0        = time.Date(2026, 3, 14, 22, 0, 0, 0, time.UTC)
	regionKey = bytes.Repeat([]byte{1}, KeySize)
	cellKey   = bytes.Repeat([]byte{2}, KeySize)
	claims    = Claims{Account: "123456789012", RoleARN: "arn:aws:iam::123456789012:role/deploy", SessionName: "s1", Expiration: t0.Add(4 * time.Hour)}
)

func sealerAt(now time.Time) *Sealer {
	return &Sealer{RegionKey: regionKey, CellKey: cellKey, Region: "local", Now: func() time.Time { return now }}
}

func issue(t *testing.T) (Claims, string, string) {
	t.Helper()
	c, secret, token, err := sealerAt(t0).Issue(claims)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return c, secret, token
}

func TestRoundTrip(t *testing.T) {
	c, secret, token := issue(t)
	if !strings.HasPrefix(c.AccessKeyID, AccessKeyPrefix) || len(c.AccessKeyID) != 20 || len(secret) != 40 {
		t.Fatalf("issued key %q secret %q", c.AccessKeyID, secret)
	}
	got, gotSecret, err := sealerAt(t0.Add(time.Hour)).Open(token)
	if err != nil || got != c || gotSecret != secret {
		t.Fatalf("Open = %+v %q %v; want %+v %q", got, gotSecret, err, c, secret)
	}
	if arn := got.AssumedRoleARN(); arn != "arn:aws:sts::123456789012:assumed-role/deploy/s1" {
		t.Errorf("AssumedRoleARN = %s", arn)
	}
	// The cell learns the claims and one STS signing key per day the
	// credential lives (it crosses midnight), never the secret.
	cc, keys, err := OpenForCell(cellKey, "local", token, t0)
	if err != nil || cc != c {
		t.Fatalf("OpenForCell = %+v %v", cc, err)
	}
	if len(keys) != 2 || !bytes.Equal(keys["20260315"], sigv4.SigningKey(secret, "20260315", "local", SigningService)) {
		t.Errorf("signing keys %v", keys)
	}
	if strings.Contains(token, secret) {
		t.Error("the token carries the secret in the clear")
	}
	creds, err := sealerAt(t0).OpenSession(c.AccessKeyID, token)
	if err != nil || creds.SecretAccessKey != secret || creds.Principal != c.AssumedRoleARN() || creds.Account != c.Account {
		t.Fatalf("OpenSession = %+v %v", creds, err)
	}
}

func TestOpenRefuses(t *testing.T) {
	c, _, token := issue(t)
	body := strings.TrimPrefix(token, tokenPrefix)
	raw, _ := base64.RawURLEncoding.DecodeString(body)
	flipped := append([]byte(nil), raw...)
	flipped[len(flipped)/2] ^= 1
	other := bytes.Repeat([]byte{3}, KeySize)
	tests := []struct {
		name   string
		sealer *Sealer
		token  string
		want   error
	}{
		{"expired", sealerAt(claims.Expiration), token, ErrExpired},
		{"tampered byte", sealerAt(t0), tokenPrefix + base64.RawURLEncoding.EncodeToString(flipped), ErrInvalid},
		{"truncated", sealerAt(t0), token[:len(token)-4], ErrInvalid},
		{"no prefix", sealerAt(t0), body, ErrInvalid},
		{"not base64", sealerAt(t0), tokenPrefix + "!!!", ErrInvalid},
		{"empty", sealerAt(t0), "", ErrInvalid},
		{"other cell key", &Sealer{RegionKey: regionKey, CellKey: other, Now: func() time.Time { return t0 }}, token, ErrInvalid},
		{"other region key", &Sealer{RegionKey: other, CellKey: cellKey, Now: func() time.Time { return t0 }}, token, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := tt.sealer.Open(tt.token); !errors.Is(err, tt.want) {
				t.Fatalf("Open error = %v; want %v", err, tt.want)
			}
		})
	}
	if _, _, err := OpenForCell(cellKey, "other-region", token, t0); !errors.Is(err, ErrInvalid) {
		t.Errorf("OpenForCell for another region: %v", err)
	}
	if _, err := sealerAt(t0).OpenSession("CPASOTHEROTHEROTHER0", token); !errors.Is(err, sigv4.ErrUnknownKey) {
		t.Errorf("OpenSession for another key: %v", err)
	}
	if _, err := sealerAt(claims.Expiration.Add(time.Second)).OpenSession(c.AccessKeyID, token); !errors.Is(err, sigv4.ErrExpiredToken) {
		t.Errorf("OpenSession of an expired token: %v", err)
	}
}

// A holder of the cell key can rewrite the outer layer, but the secret is
// bound to the claims it was issued with: claims swapped in (another role,
// account or a later expiry) are refused by the region.
func TestClaimsSwapRefused(t *testing.T) {
	_, _, token := issue(t)
	swaps := map[string]func(*Claims){
		"role":       func(c *Claims) { c.RoleARN = "arn:aws:iam::123456789012:role/admin" },
		"account":    func(c *Claims) { c.Account = "210987654321" },
		"expiration": func(c *Claims) { c.Expiration = c.Expiration.Add(240 * time.Hour) },
		"session":    func(c *Claims) { c.SessionName = "other" },
	}
	for name, swap := range swaps {
		t.Run(name, func(t *testing.T) {
			forged := reseal(t, token, swap)
			if _, _, err := OpenForCell(cellKey, "local", forged, t0); err != nil {
				t.Fatalf("the forged outer layer does not open for the cell: %v", err)
			}
			if _, _, err := sealerAt(t0).Open(forged); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Open of swapped claims = %v; want %v", err, ErrInvalid)
			}
		})
	}
}

// reseal opens the outer layer with the cell key, changes the claims and
// seals it again, as someone holding the cell key could.
func reseal(t *testing.T, token string, swap func(*Claims)) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(token, tokenPrefix))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := open(cellKey, raw, []byte(tokenPrefix))
	if err != nil {
		t.Fatal(err)
	}
	var o outer
	if err := json.Unmarshal(plain, &o); err != nil {
		t.Fatal(err)
	}
	swap(&o.Claims)
	plain, _ = json.Marshal(o)
	sealed, err := seal(cellKey, plain, []byte(tokenPrefix))
	if err != nil {
		t.Fatal(err)
	}
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(sealed)
}

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "session-region.key")
	first, err := LoadOrCreateKey(path)
	if err != nil || len(first) != KeySize {
		t.Fatalf("LoadOrCreateKey: %d bytes, %v", len(first), err)
	}
	again, err := LoadOrCreateKey(path)
	if err != nil || !bytes.Equal(first, again) {
		t.Fatalf("second LoadOrCreateKey returned another key (%v)", err)
	}
	if _, _, _, err := (&Sealer{RegionKey: first[:16], CellKey: cellKey}).Issue(claims); err == nil {
		t.Error("Issue with a short key succeeded")
	}
}
