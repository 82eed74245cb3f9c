package ekstoken

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"strings"
	"time"

	"github.com/cellplane/cellplane/internal/sigv4"
)

// Credentials sign a token: a long-term key, or a temporary one with its
// session token.
type Credentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
}

// Generate makes the token `aws eks get-token --cluster-name cluster
// --region region` would: a GetCallerIdentity URL for sts.<region>.amazonaws.com
// presigned for 60 seconds at now.
func Generate(c Credentials, cluster, region string, now time.Time) string {
	now = now.UTC()
	day := now.Format("20060102")
	q := url.Values{
		"Action":              {"GetCallerIdentity"},
		"Version":             {"2011-06-15"},
		"X-Amz-Algorithm":     {algorithm},
		"X-Amz-Credential":    {strings.Join([]string{c.AccessKeyID, day, region, service, terminal}, "/")},
		"X-Amz-Date":          {now.Format(dateFormat)},
		"X-Amz-Expires":       {"60"},
		"X-Amz-SignedHeaders": {"host;" + ClusterIDHeader},
	}
	if c.SessionToken != "" {
		q.Set("X-Amz-Security-Token", c.SessionToken)
	}
	host := "sts." + region + ".amazonaws.com"
	creq := strings.Join([]string{"GET", "/", canonicalQuery(q),
		"host:" + host + "\n" + ClusterIDHeader + ":" + cluster + "\n", "host;" + ClusterIDHeader, emptySHA256}, "\n")
	sum := sha256.Sum256([]byte(creq))
	sts := strings.Join([]string{algorithm, now.Format(dateFormat),
		strings.Join([]string{day, region, service, terminal}, "/"), hex.EncodeToString(sum[:])}, "\n")
	key := sigv4.SigningKey(c.SecretAccessKey, day, region, service)
	q.Set("X-Amz-Signature", hex.EncodeToString(hmacSHA256(key, sts)))
	u := "https://" + host + "/?" + canonicalQuery(q) + "&X-Amz-Signature=" + q.Get("X-Amz-Signature")
	return Prefix + base64.RawURLEncoding.EncodeToString([]byte(u))
}
