package sts_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/cellplane/cellplane/internal/account"
	"github.com/cellplane/cellplane/internal/apiguard"
	"github.com/cellplane/cellplane/internal/iam"
	"github.com/cellplane/cellplane/internal/sessiontoken"
	"github.com/cellplane/cellplane/internal/sigv4"
	"github.com/cellplane/cellplane/internal/store/storetest"
	"github.com/cellplane/cellplane/internal/sts"
)

var env storetest.Env

func TestMain(m *testing.M) { storetest.Main(m, &env) }

type fixture struct {
	url     string
	account string
	admin   account.AccessKey
	dev     account.AccessKey
	role    iam.Role
	sealer  *sessiontoken.Sealer
}

func key() []byte {
	b := make([]byte, sessiontoken.KeySize)
	_, _ = rand.Read(b)
	return b
}

// setup serves STS as the regional API does, behind the guard, on a real
// store with an account, a user "dev" and a role "deploy" trusting dev.
func setup(t *testing.T) fixture {
	t.Helper()
	ctx := context.Background()
	c := env.Client(t)
	accounts := &account.Store{Client: c, Key: bytes.Repeat([]byte{7}, account.MasterKeySize)}
	principals := &iam.Store{Client: c, Accounts: accounts}
	a, admin, err := principals.CreateAccount(ctx, "sts-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = deleteAll(principals, a.ID) })
	dev, err := principals.CreateUser(ctx, a.ID, "dev")
	if err != nil {
		t.Fatal(err)
	}
	devKey, err := principals.CreateAccessKey(ctx, a.ID, dev.Name)
	if err != nil {
		t.Fatal(err)
	}
	role, err := principals.CreateRole(ctx, a.ID, "deploy", []string{dev.ARN})
	if err != nil {
		t.Fatal(err)
	}
	sealer := &sessiontoken.Sealer{RegionKey: key(), CellKey: key(), Region: "local"}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	v := &sigv4.Verifier{Keys: accounts, Sessions: sealer, Service: sts.SigningName, Region: "local"}
	h := apiguard.Guard(&sts.Handler{Principals: principals, Sealer: sealer, Logger: log}, v, nil, sts.WriteError(log))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return fixture{url: srv.URL, account: a.ID, admin: admin, dev: devKey, role: role, sealer: sealer}
}

func deleteAll(p *iam.Store, id string) error {
	for _, k := range mustKeys(p, id) {
		_ = p.Accounts.DeleteAccessKey(context.Background(), id, k.AccessKeyID)
	}
	return p.DeleteAccount(context.Background(), id)
}

func mustKeys(p *iam.Store, id string) []account.AccessKey {
	keys, _ := p.Accounts.ListAccessKeys(context.Background(), id)
	return keys
}

func client(f fixture, akid, secret, token string) *awssts.Client {
	return awssts.New(awssts.Options{
		Region: "local", BaseEndpoint: aws.String(f.url), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(akid, secret, token),
	})
}

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestGetCallerIdentityAndAssumeRole(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	admin := client(f, f.admin.AccessKeyID, f.admin.SecretAccessKey, "")
	id, err := admin.GetCallerIdentity(ctx, &awssts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(id.Arn) != account.AdminUserARN(f.account) || aws.ToString(id.Account) != f.account || !strings.HasPrefix(aws.ToString(id.UserId), "CPUI") {
		t.Fatalf("GetCallerIdentity as admin = %+v, %v", id, err)
	}

	// admin is not in the role's trust list.
	_, err = admin.AssumeRole(ctx, &awssts.AssumeRoleInput{RoleArn: aws.String(f.role.ARN), RoleSessionName: aws.String("s1")})
	if code(err) != "AccessDenied" {
		t.Fatalf("AssumeRole as an untrusted user = %v; want AccessDenied", err)
	}

	dev := client(f, f.dev.AccessKeyID, f.dev.SecretAccessKey, "")
	before := time.Now()
	out, err := dev.AssumeRole(ctx, &awssts.AssumeRoleInput{RoleArn: aws.String(f.role.ARN), RoleSessionName: aws.String("s1"), DurationSeconds: aws.Int32(900)})
	if err != nil {
		t.Fatalf("AssumeRole: %v", err)
	}
	wantARN := "arn:aws:sts::" + f.account + ":assumed-role/deploy/s1"
	creds := out.Credentials
	if aws.ToString(out.AssumedRoleUser.Arn) != wantARN || aws.ToString(out.AssumedRoleUser.AssumedRoleId) != f.role.RoleID+":s1" ||
		!strings.HasPrefix(aws.ToString(creds.AccessKeyId), sessiontoken.AccessKeyPrefix) {
		t.Fatalf("AssumeRole = %+v %+v", out.AssumedRoleUser, creds)
	}
	if exp := aws.ToTime(creds.Expiration); exp.Before(before.Add(14*time.Minute)) || exp.After(before.Add(16*time.Minute)) {
		t.Fatalf("expiration %s, want 15 minutes from now", exp)
	}
	session := client(f, aws.ToString(creds.AccessKeyId), aws.ToString(creds.SecretAccessKey), aws.ToString(creds.SessionToken))
	id, err = session.GetCallerIdentity(ctx, &awssts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(id.Arn) != wantARN || aws.ToString(id.UserId) != f.role.RoleID+":s1" {
		t.Fatalf("GetCallerIdentity as the session = %+v, %v", id, err)
	}
	// Chained roles are limited to an hour.
	_, err = session.AssumeRole(ctx, &awssts.AssumeRoleInput{RoleArn: aws.String(f.role.ARN), RoleSessionName: aws.String("s2"), DurationSeconds: aws.Int32(7200)})
	if code(err) != "ValidationError" {
		t.Fatalf("chained AssumeRole for 2 hours = %v; want ValidationError", err)
	}

	token := aws.ToString(creds.SessionToken)
	refused := map[string]struct {
		akid, secret, token, code string
	}{
		"tampered token":       {aws.ToString(creds.AccessKeyId), aws.ToString(creds.SecretAccessKey), token[:len(token)-8] + "AAAAAAAA", "InvalidClientTokenId"},
		"token of another key": {"CPASAAAAAAAAAAAAAAAA", aws.ToString(creds.SecretAccessKey), token, "InvalidClientTokenId"},
		"wrong secret":         {aws.ToString(creds.AccessKeyId), "x" + aws.ToString(creds.SecretAccessKey)[1:], token, "SignatureDoesNotMatch"},
		"temporary key alone":  {aws.ToString(creds.AccessKeyId), aws.ToString(creds.SecretAccessKey), "", "InvalidClientTokenId"},
	}
	for name, tt := range refused {
		_, err := client(f, tt.akid, tt.secret, tt.token).GetCallerIdentity(ctx, &awssts.GetCallerIdentityInput{})
		if code(err) != tt.code {
			t.Errorf("%s: %v; want %s", name, err, tt.code)
		}
	}

	// Issued an hour ago for 15 minutes: expired.
	old := *f.sealer
	old.Now = func() time.Time { return time.Now().Add(-time.Hour) }
	c, secret, expired, err := old.Issue(sessiontoken.Claims{Account: f.account, RoleARN: f.role.ARN, SessionName: "old", Expiration: time.Now().Add(-45 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = client(f, c.AccessKeyID, secret, expired).GetCallerIdentity(ctx, &awssts.GetCallerIdentityInput{})
	if code(err) != "ExpiredToken" {
		t.Fatalf("expired token: %v; want ExpiredToken", err)
	}
}

func TestAssumeRoleValidation(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	dev := client(f, f.dev.AccessKeyID, f.dev.SecretAccessKey, "")
	tests := map[string]*awssts.AssumeRoleInput{
		"short session name":   {RoleArn: aws.String(f.role.ARN), RoleSessionName: aws.String("s")},
		"bad session name":     {RoleArn: aws.String(f.role.ARN), RoleSessionName: aws.String("a b")},
		"duration too short":   {RoleArn: aws.String(f.role.ARN), RoleSessionName: aws.String("s1"), DurationSeconds: aws.Int32(899)},
		"duration too long":    {RoleArn: aws.String(f.role.ARN), RoleSessionName: aws.String("s1"), DurationSeconds: aws.Int32(43201)},
		"malformed role ARN":   {RoleArn: aws.String("arn:aws:iam::" + f.account + ":deploy"), RoleSessionName: aws.String("s1")},
		"a policy to apply":    {RoleArn: aws.String(f.role.ARN), RoleSessionName: aws.String("s1"), Policy: aws.String("{}")},
		"user ARN as the role": {RoleArn: aws.String("arn:aws:iam::" + f.account + ":user/dev"), RoleSessionName: aws.String("s1")},
	}
	for name, in := range tests {
		if _, err := dev.AssumeRole(ctx, in); code(err) != "ValidationError" {
			t.Errorf("%s: %v; want ValidationError", name, err)
		}
	}
	if _, err := dev.AssumeRole(ctx, &awssts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + f.account + ":role/ghost"), RoleSessionName: aws.String("s1")}); code(err) != "AccessDenied" {
		t.Errorf("unknown role: %v; want AccessDenied", err)
	}
}

// The protocol's own errors, as raw requests see them: the XML
// ErrorResponse with Type, Code, Message and RequestId.
func TestProtocolErrors(t *testing.T) {
	f := setup(t)
	post := func(form url.Values) (int, string) {
		resp, err := http.Post(f.url+"/", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	status, body := post(url.Values{"Action": {"GetCallerIdentity"}, "Version": {sts.Version}})
	for _, want := range []string{`<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">`, "<Type>Sender</Type>", "<Code>MissingAuthenticationToken</Code>", "<RequestId>"} {
		if !strings.Contains(body, want) {
			t.Errorf("unsigned request: %d %s; want %s", status, body, want)
		}
	}
	if status != http.StatusForbidden {
		t.Errorf("unsigned request status %d", status)
	}

	signed := func(form url.Values) (int, string) {
		body := form.Encode()
		req, _ := http.NewRequest(http.MethodPost, f.url+"/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		sum := sha256.Sum256([]byte(body))
		c := aws.Credentials{AccessKeyID: f.admin.AccessKeyID, SecretAccessKey: f.admin.SecretAccessKey}
		if err := v4.NewSigner().SignHTTP(context.Background(), c, req, hex.EncodeToString(sum[:]), "sts", "local", time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(out)
	}
	for name, tt := range map[string]struct {
		form   url.Values
		status int
		code   string
	}{
		"no action":       {url.Values{"Version": {sts.Version}}, 400, "MissingAction"},
		"unknown action":  {url.Values{"Action": {"GetSessionToken"}, "Version": {sts.Version}}, 400, "InvalidAction"},
		"another version": {url.Values{"Action": {"GetCallerIdentity"}, "Version": {"2099-01-01"}}, 400, "InvalidAction"},
		"served":          {url.Values{"Action": {"GetCallerIdentity"}, "Version": {sts.Version}}, 200, ""},
	} {
		status, body := signed(tt.form)
		if status != tt.status || (tt.code != "" && !strings.Contains(body, "<Code>"+tt.code+"</Code>")) {
			t.Errorf("%s: %d %s; want %d %s", name, status, body, tt.status, tt.code)
		}
		if tt.code == "" && !strings.Contains(body, `<GetCallerIdentityResponse xmlns="`+sts.Namespace+`">`) {
			t.Errorf("%s: %s", name, body)
		}
	}
}
