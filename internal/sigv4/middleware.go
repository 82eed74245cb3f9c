package sigv4

import (
	"context"
	"net/http"
)

type (
	accountKey   struct{}
	principalKey struct{}
)

// WithAccount returns ctx carrying the verified account ID. Middleware calls it;
// tests of handlers behind the middleware may call it directly.
func WithAccount(ctx context.Context, account string) context.Context {
	return context.WithValue(ctx, accountKey{}, account)
}

// AccountFrom returns the account the request was verified for, if any.
func AccountFrom(ctx context.Context) (string, bool) {
	account, ok := ctx.Value(accountKey{}).(string)
	return account, ok && account != ""
}

// WithPrincipal returns ctx carrying the ARN of the verified principal.
func WithPrincipal(ctx context.Context, arn string) context.Context {
	return context.WithValue(ctx, principalKey{}, arn)
}

// PrincipalFrom returns the ARN of the principal the request was verified
// for: an IAM user (arn:aws:iam::<account>:user/<name>) or an assumed role
// (arn:aws:sts::<account>:assumed-role/<role>/<session>).
func PrincipalFrom(ctx context.Context) (string, bool) {
	arn, ok := ctx.Value(principalKey{}).(string)
	return arn, ok && arn != ""
}

// Middleware verifies every request before next sees it. On failure it calls
// onError, which writes the wire error (the API maps the sentinels); next is not
// called. On success next gets the request with the account and the principal in its
// context.
func (v *Verifier) Middleware(next http.Handler, onError func(w http.ResponseWriter, r *http.Request, err error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		creds, err := v.Verify(r)
		if err != nil {
			onError(w, r, err)
			return
		}
		ctx := WithAccount(r.Context(), creds.Account)
		if creds.Principal != "" {
			ctx = WithPrincipal(ctx, creds.Principal)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
