package ekstoken

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cellplane/cellplane/internal/sessiontoken"
	"github.com/cellplane/cellplane/internal/sigv4"
)

const (
	testAKID    = "CPAKAAAAAAAAAAAAAAAA"
	testSecret  = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	testAccount = "000000000000"
	testUser    = "arn:aws:iam::000000000000:user/admin"
)

// awscliToken is what Debian's awscli 2.9.19 printed for
// `AWS_ACCESS_KEY_ID=testAKID AWS_SECRET_ACCESS_KEY=testSecret
// aws --region local eks get-token --cluster-name team-one` at awscliDate.
const awscliToken = "k8s-aws-v1.aHR0cHM6Ly9zdHMubG9jYWwuYW1hem9uYXdzLmNvbS8_QWN0aW9uPUdldENhbGxlcklkZW50aXR5JlZlcnNpb249MjAxMS0wNi0xNSZYLUFtei1BbGdvcml0aG09QVdTNC1ITUFDLVNIQTI1NiZYLUFtei1DcmVkZW50aWFsPUNQQUtBQUFBQUFBQUFBQUFBQUFBJTJGMjAyNjEyMDIlMkZsb2NhbCUyRnN0cyUyRmF3czRfcmVxdWVzdCZYLUFtei1EYXRlPTIwMjYxMjAyVDE2NTM0MVomWC1BbXotRXhwaXJlcz02MCZYLUFtei1TaWduZWRIZWFkZXJzPWhvc3QlM0J4LWs4cy1hd3MtaWQmWC1BbXotU2lnbmF0dXJlPTExYzcxOWE1MWRiOTVkMDA2ZTQ1YTQ2ODk0YzA2OWYzNzZlMzY2OTdjNGFhMmNlMzllZThhNDZlNWM1MWVjZmE"

var awscliDate = time.Date(2026, 12, 2, 16, 53, 41, 0, time.UTC)

// staticKeys knows the test key for every day.
type staticKeys map[string]string

func (s staticKeys) SigningKey(akid, day string) (Identity, []byte, error) {
	secret, ok := s[akid]
	if !ok {
		return Identity{}, nil, fmt.Errorf("%s: %w", akid, ErrUnknownKey)
	}
	return Identity{Account: testAccount, PrincipalARN: testUser, ARN: testUser},
		sigv4.SigningKey(secret, day, "local", "sts"), nil
}

func verifier(now time.Time) *Verifier {
	return &Verifier{Keys: staticKeys{testAKID: testSecret}, CellKey: cellKey, Region: "local",
		Now: func() time.Time { return now }}
}

var cellKey = []byte(strings.Repeat("c", sessiontoken.KeySize))

func TestAWSCLIToken(t *testing.T) {
	id, err := verifier(awscliDate.Add(14*time.Minute)).Verify(awscliToken, "team-one")
	if err != nil {
		t.Fatal(err)
	}
	if id.PrincipalARN != testUser || id.AccessKeyID != testAKID || id.Account != testAccount {
		t.Fatalf("identity = %+v", id)
	}
	// Generate makes what awscli makes, byte for byte.
	if got := Generate(Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}, "team-one", "local", awscliDate); got != awscliToken {
		t.Fatalf("Generate differs from awscli:\n%s\n%s", decode(t, got), decode(t, awscliToken))
	}
}

func decode(t *testing.T, token string) string {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(token, Prefix))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func encode(u string) string { return Prefix + base64.RawURLEncoding.EncodeToString([]byte(u)) }

// withParam rewrites one query parameter of the token's URL.
func withParam(t *testing.T, token, key, value string) string {
	u, err := url.Parse(decode(t, token))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if value == "" {
		q.Del(key)
	} else {
		q.Set(key, value)
	}
	u.RawQuery = q.Encode()
	return encode(u.String())
}

func TestRefused(t *testing.T) {
	now := awscliDate.Add(time.Minute)
	good := Generate(Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}, "team-one", "local", awscliDate)
	raw := decode(t, good)
	cases := []struct {
		name, token, cluster string
		now                  time.Time
		want                 error
	}{
		{"other cluster", good, "team-two", now, ErrSignature},
		{"expired", good, "team-one", awscliDate.Add(Lifetime + time.Second), ErrExpired},
		{"from the future", good, "team-one", awscliDate.Add(-Lifetime - time.Second), ErrExpired},
		{"no prefix", strings.TrimPrefix(good, Prefix), "team-one", now, ErrMalformed},
		{"v2 prefix", "k8s-aws-v2." + strings.TrimPrefix(good, Prefix), "team-one", now, ErrMalformed},
		{"not base64", Prefix + "!!!", "team-one", now, ErrMalformed},
		{"too long", good + strings.Repeat("A", MaxLen), "team-one", now, ErrMalformed},
		{"wrong host", encode(strings.Replace(raw, "sts.local.amazonaws.com", "sts.evil.example", 1)), "team-one", now, ErrMalformed},
		{"other allowed host", encode(strings.Replace(raw, "sts.local.amazonaws.com", "sts.amazonaws.com", 1)), "team-one", now, ErrSignature},
		{"http", encode(strings.Replace(raw, "https://", "http://", 1)), "team-one", now, ErrMalformed},
		{"path", encode(strings.Replace(raw, ".com/?", ".com/x?", 1)), "team-one", now, ErrMalformed},
		{"unsigned cluster id", withParam(t, good, "X-Amz-SignedHeaders", "host"), "team-one", now, ErrMalformed},
		{"extra signed header", withParam(t, good, "X-Amz-SignedHeaders", "host;x-k8s-aws-id;x-extra"), "team-one", now, ErrMalformed},
		{"other action", withParam(t, good, "Action", "AssumeRole"), "team-one", now, ErrMalformed},
		{"extra parameter", withParam(t, good, "RoleArn", "x"), "team-one", now, ErrMalformed},
		{"expires too long", withParam(t, good, "X-Amz-Expires", "901"), "team-one", now, ErrMalformed},
		{"no expires", withParam(t, good, "X-Amz-Expires", ""), "team-one", now, ErrMalformed},
		{"redated", withParam(t, good, "X-Amz-Date", awscliDate.Add(time.Minute).Format(dateFormat)), "team-one", now, ErrSignature},
		{"other region", withParam(t, good, "X-Amz-Credential", testAKID+"/20261202/us-east-1/sts/aws4_request"), "team-one", now, ErrMalformed},
		{"other service", withParam(t, good, "X-Amz-Credential", testAKID+"/20261202/local/eks/aws4_request"), "team-one", now, ErrMalformed},
		{"other day", withParam(t, good, "X-Amz-Credential", testAKID+"/20261203/local/sts/aws4_request"), "team-one", now, ErrMalformed},
		{"tampered signature", withParam(t, good, "X-Amz-Signature", strings.Repeat("0", 64)), "team-one", now, ErrSignature},
		{"no signature", withParam(t, good, "X-Amz-Signature", ""), "team-one", now, ErrMalformed},
		{"unknown key", Generate(Credentials{AccessKeyID: "CPAKBBBBBBBBBBBBBBBB", SecretAccessKey: testSecret}, "team-one", "local", awscliDate), "team-one", now, ErrUnknownKey},
		{"wrong secret", Generate(Credentials{AccessKeyID: testAKID, SecretAccessKey: "other"}, "team-one", "local", awscliDate), "team-one", now, ErrSignature},
		{"long-term key with a session token", Generate(Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret, SessionToken: "x"}, "team-one", "local", awscliDate), "team-one", now, ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := verifier(c.now).Verify(c.token, c.cluster)
			if !errors.Is(err, c.want) {
				t.Fatalf("Verify = %v, want %v", err, c.want)
			}
		})
	}
}

// TestMutations flips random bytes of a good token's URL: every change that
// alters what the URL says must be refused, and nothing may panic.
func TestMutations(t *testing.T) {
	now := awscliDate.Add(time.Minute)
	raw := decode(t, awscliToken)
	orig, _ := url.Parse(raw)
	rng := rand.New(rand.NewSource(1))
	const alphabet = "abcdefABCDEF0123456789%&=/?.:-_~+ "
	for i := 0; i < 3000; i++ {
		b := []byte(raw)
		for n := 1 + rng.Intn(3); n > 0; n-- {
			b[rng.Intn(len(b))] = alphabet[rng.Intn(len(alphabet))]
		}
		_, err := verifier(now).Verify(encode(string(b)), "team-one")
		if err == nil {
			u, perr := url.Parse(string(b))
			if perr != nil || !strings.EqualFold(u.Host, orig.Host) || !reflect.DeepEqual(u.Query(), orig.Query()) {
				t.Fatalf("mutated token accepted: %s", b)
			}
		}
	}
}

func TestSessionToken(t *testing.T) {
	sealer := &sessiontoken.Sealer{RegionKey: []byte(strings.Repeat("r", sessiontoken.KeySize)), CellKey: cellKey,
		Region: "local", Now: func() time.Time { return awscliDate }}
	claims, secret, token, err := sealer.Issue(sessiontoken.Claims{Account: testAccount,
		RoleARN: "arn:aws:iam::000000000000:role/deployer", SessionName: "ci", Expiration: awscliDate.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	creds := Credentials{AccessKeyID: claims.AccessKeyID, SecretAccessKey: secret, SessionToken: token}
	tok := Generate(creds, "team-one", "local", awscliDate)
	id, err := verifier(awscliDate.Add(time.Minute)).Verify(tok, "team-one")
	if err != nil {
		t.Fatal(err)
	}
	if id.PrincipalARN != "arn:aws:iam::000000000000:role/deployer" || id.ARN != "arn:aws:sts::000000000000:assumed-role/deployer/ci" || id.SessionName != "ci" {
		t.Fatalf("identity = %+v", id)
	}
	if _, err := verifier(awscliDate.Add(time.Minute)).Verify(tok, "team-two"); !errors.Is(err, ErrSignature) {
		t.Fatalf("other cluster: %v", err)
	}
	// The credential expired: refused although the URL is fresh.
	late := awscliDate.Add(time.Hour + time.Minute)
	if _, err := verifier(late).Verify(Generate(creds, "team-one", "local", late), "team-one"); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired credential: %v", err)
	}
	// Another key's session token, or a forged one.
	other := Generate(Credentials{AccessKeyID: "CPASAAAAAAAAAAAAAAAA", SecretAccessKey: secret, SessionToken: token}, "team-one", "local", awscliDate)
	if _, err := verifier(awscliDate.Add(time.Minute)).Verify(other, "team-one"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("session token of another key: %v", err)
	}
	forged := Generate(Credentials{AccessKeyID: claims.AccessKeyID, SecretAccessKey: secret, SessionToken: token[:len(token)-4] + "AAAA"}, "team-one", "local", awscliDate)
	if _, err := verifier(awscliDate.Add(time.Minute)).Verify(forged, "team-one"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("forged session token: %v", err)
	}
}

// BenchmarkVerify measures one verification of a long-term key's token: what
// the cell's authenticator does per TokenReview the API servers' caches miss.
func BenchmarkVerify(b *testing.B) {
	v := verifier(awscliDate.Add(time.Minute))
	for b.Loop() {
		if _, err := v.Verify(awscliToken, "team-one"); err != nil {
			b.Fatal(err)
		}
	}
}
