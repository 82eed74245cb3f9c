package eksinput

import (
	"strings"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// ClusterARN splits the resource ARN of a tagging request,
// arn:cellplane:eks:<region>:<account>:cluster/<name>; ok is false for anything else.
func ClusterARN(arn string) (region, account, name string, ok bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] != "cellplane" || parts[2] != "eks" || parts[3] == "" {
		return "", "", "", false
	}
	name, ok = strings.CutPrefix(parts[5], "cluster/")
	if !ok || !validAccount(parts[4]) || !v1alpha1.ValidName(name) {
		return "", "", "", false
	}
	return parts[3], parts[4], name, true
}

// validAccount reports whether a is a 12-digit AWS-style account ID.
func validAccount(a string) bool {
	return len(a) == 12 && strings.Trim(a, "0123456789") == ""
}
