// Package iam owns the principals of the region's accounts: IAM-style users
// and roles with their ARNs (arn:aws:iam::<account>:user/<name>,
// ...:role/<name>), the trust list of each role (which principals of its
// account may assume it), and which user each access key signs for. Every
// account has the user "admin", which its first key belongs to. Users and
// roles are ConfigMaps beside the accounts' Secrets in the region store; the
// keys themselves stay internal/account's. It decides who may assume a role;
// issuing the temporary credentials is internal/sts's.
package iam
