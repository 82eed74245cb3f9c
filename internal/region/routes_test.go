package region

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Each request reaches the one API it is for.
func TestServiceRoutes(t *testing.T) {
	var got string
	named := func(name string) http.Handler {
		return http.HandlerFunc(func(http.ResponseWriter, *http.Request) { got = name })
	}
	routes := serviceRoutes{kms: named("kms"), sts: named("sts"), eks: named("eks")}
	authz := func(service string) string {
		return "AWS4-HMAC-SHA256 Credential=CPAKTESTTESTTESTTEST/20260314/local/" + service + "/aws4_request, SignedHeaders=host;x-amz-date, Signature=ab"
	}
	tests := []struct {
		name, method, path, contentType, target, authorization, want string
	}{
		{"KMS", "POST", "/", "application/x-amz-json-1.1", "TrentService.ListKeys", authz("kms"), "kms"},
		{"STS signed", "POST", "/", "application/x-www-form-urlencoded; charset=utf-8", "", authz("sts"), "sts"},
		{"STS unsigned", "POST", "/", "application/x-www-form-urlencoded", "", "", "sts"},
		{"EKS", "GET", "/clusters", "", "", authz("eks"), "eks"},
		{"EKS unsigned", "POST", "/clusters", "application/json", "", "", "eks"},
		{"form POST signed for EKS", "POST", "/", "application/x-www-form-urlencoded", "", authz("eks"), "eks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got = ""
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(""))
			for k, v := range map[string]string{"Content-Type": tt.contentType, "X-Amz-Target": tt.target, "Authorization": tt.authorization} {
				if v != "" {
					req.Header.Set(k, v)
				}
			}
			routes.ServeHTTP(httptest.NewRecorder(), req)
			if got != tt.want {
				t.Fatalf("routed to %q; want %q", got, tt.want)
			}
		})
	}
	got = ""
	(serviceRoutes{kms: named("kms"), eks: named("eks")}).ServeHTTP(httptest.NewRecorder(),
		httptest.NewRequest("POST", "/", strings.NewReader("")))
	if got != "eks" {
		t.Fatalf("without STS, a form POST went to %q", got)
	}
}
