package etcdcare

import "strings"

// ReservedPrefix holds the keys cellplane itself writes into a tenant's etcd. It
// sits outside Kubernetes' /registry/ prefix, so no API server ever reads it.
const ReservedPrefix = "/cellplane.io/"

// ProbePrefix holds the short-lived keys written to prove that writes work.
const ProbePrefix = ReservedPrefix + "probe/"

// ReplayMarkerKey holds, on a restored cluster, the last source revision that
// Replay applied, in decimal.
const ReplayMarkerKey = ReservedPrefix + "replay/source-revision"

func reserved(key []byte) bool { return strings.HasPrefix(string(key), ReservedPrefix) }
