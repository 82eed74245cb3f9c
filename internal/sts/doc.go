// Package sts serves the region's security token service: GetCallerIdentity
// and AssumeRole over the AWS query protocol (form-encoded POSTs answered
// with XML in the 2011-06-15 namespace), signed for the service "sts", so
// that `aws sts ...` and the SDKs' role profiles work against the regional
// API. It owns the protocol, its one error table and the checks of
// AssumeRole's parameters; who may assume which role is internal/iam's
// decision, the temporary credentials' format internal/sessiontoken's, and
// the signature internal/sigv4's (behind the regional API's guard).
package sts
