// Package ekstoken verifies the bearer tokens `aws eks get-token` and
// aws-iam-authenticator emit: "k8s-aws-v1." and the base64url of a presigned
// STS GetCallerIdentity URL, bound to one cluster by the signed x-k8s-aws-id
// header. It checks the signature locally with SigV4 signing keys (derived
// per day, region and the sts service) and never calls STS: the URL names a
// host nothing listens on. It owns no keys and no I/O; a KeySource hands it the
// long-term keys' signing keys and the cell key opens temporary credentials.
package ekstoken
