package cell

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/cellplane/cellplane/internal/errdefs"
)

// runtimeConfigFlag sets APIServerRuntimeConfig.
const runtimeConfigFlag = "apiserver-runtime-config"

var (
	minorRE        = regexp.MustCompile(`^1\.[0-9]{1,3}$`)
	groupRE        = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	versionRE      = regexp.MustCompile(`^v[1-9][0-9]*((alpha|beta)[1-9][0-9]*)?$`)
	runtimeBoolSet = map[string]bool{"true": true, "false": true}
)

// runtimeConfigEntry is one "<minor>:<group>/<version>=<true|false>".
type runtimeConfigEntry struct{ minor, groupVersion, value string }

// parseRuntimeConfig reads APIServerRuntimeConfig: comma-separated entries,
// each "<minor>:<group>/<version>=<true|false>". Only API group versions are
// accepted, not kube-apiserver's api/all or resource-level keys: the setting
// exists to serve (or stop serving) one API version on one minor.
func parseRuntimeConfig(s string) ([]runtimeConfigEntry, error) {
	if s == "" {
		return nil, nil
	}
	var out []runtimeConfigEntry
	for _, e := range strings.Split(s, ",") {
		minor, rest, ok1 := strings.Cut(e, ":")
		gv, value, ok2 := strings.Cut(rest, "=")
		group, version, ok3 := strings.Cut(gv, "/")
		if !ok1 || !ok2 || !ok3 || !minorRE.MatchString(minor) || !groupRE.MatchString(group) ||
			!versionRE.MatchString(version) || !runtimeBoolSet[value] {
			return nil, fmt.Errorf("%w: --%s entry %q is not <minor>:<group>/<version>=<true|false>, for example 1.36:networking.k8s.io/v1beta1=true",
				errdefs.ErrInvalidConfig, runtimeConfigFlag, e)
		}
		out = append(out, runtimeConfigEntry{minor: minor, groupVersion: gv, value: value})
	}
	return out, nil
}

// runtimeConfigs maps each minor to its API servers' --runtime-config
// value; nil when the tuning sets none. It assumes a validated tuning.
func (t Tuning) runtimeConfigs() map[string]string {
	entries, err := parseRuntimeConfig(t.APIServerRuntimeConfig)
	if err != nil || len(entries) == 0 {
		return nil
	}
	out := map[string]string{}
	for _, e := range entries {
		if out[e.minor] != "" {
			out[e.minor] += ","
		}
		out[e.minor] += e.groupVersion + "=" + e.value
	}
	return out
}
