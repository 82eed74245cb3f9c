package keyservice

import (
	"fmt"
	"regexp"
	"strings"
)

// uuidPattern is a key ID as AWS KMS writes it: a lowercase UUID.
var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// ARN is the ARN of key id of account in region.
func ARN(region, account, id string) string {
	return fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", region, account, id)
}

// parseRef reads a key reference as AWS KMS takes it, a key ID or a key ARN,
// and returns the key ID. An ARN of another region or account names no key of
// the caller's (a key is never shared across accounts here), so it is
// reported as not found, as AWS does for a key the caller may not see.
func parseRef(region, account, ref string) (string, error) {
	switch {
	case ref == "":
		return "", fmt.Errorf("%w: KeyId is required", ErrValidation)
	case len(ref) > 2048:
		return "", fmt.Errorf("%w: KeyId must be at most 2048 characters", ErrValidation)
	case uuidPattern.MatchString(ref):
		return ref, nil
	case strings.HasPrefix(ref, "alias/"), strings.Contains(ref, ":alias/"):
		return "", fmt.Errorf("%w: aliases are not supported; name the key by its ID or ARN", ErrNotFound)
	}
	id, ok := strings.CutPrefix(ref, "arn:aws:kms:"+region+":"+account+":key/")
	if !ok || !uuidPattern.MatchString(id) {
		if strings.HasPrefix(ref, "arn:") {
			return "", fmt.Errorf("%w: key '%s' does not exist", ErrNotFound, ref)
		}
		return "", fmt.Errorf("%w: KeyId %q is neither a key ID (a UUID) nor a key ARN", ErrNotFound, ref)
	}
	return id, nil
}
