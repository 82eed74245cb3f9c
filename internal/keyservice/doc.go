// Package keyservice owns the region's key service: customer keys per
// account (KMSKey objects in the account's namespace of the region store),
// the AWS KMS JSON 1.1 protocol the AWS SDKs speak to it (CreateKey,
// DescribeKey, ListKeys, EnableKey, DisableKey, RotateKeyOnDemand,
// ListKeyRotations), and the copy of each key's state into the clusters
// bound to it, which their cells act on. It holds no key material: a
// cluster's own keys stay in its cell, named after the customer key and
// usable only while the key is enabled.
package keyservice
