// Package ratelimit holds the regional API's request rate limits: a token
// bucket (golang.org/x/time/rate) per account and per source address, kept
// in bounded maps so that a flood of sources or accounts cannot grow them
// without end. A request over its bucket is refused at once with
// ErrThrottled, which the API answers as AWS does (ThrottlingException, HTTP
// 429) so the AWS SDKs back off and retry. Buckets are independent: one
// account's burst takes nothing from another's.
package ratelimit
