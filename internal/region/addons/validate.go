package addons

import (
	"strings"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/addoncatalog"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// knownAddon refuses a name the catalogue does not offer.
func knownAddon(name, minor string) error {
	if name == "" {
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "addonName is required.")
	}
	if !addoncatalog.Known(name) {
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "Addon %s specified is not supported in %s kubernetes version. Supported add-ons: %s.",
			name, minor, strings.Join(addoncatalog.Names(), ", "))
	}
	return nil
}

// version resolves the version a request asks for against the cluster's
// minor: the default when none is asked.
func version(name, minor, want string) (string, error) {
	if want == "" {
		v, ok := addoncatalog.Default(name, minor)
		if !ok {
			return "", errdefs.Publicf(errdefs.ErrInvalidParameter, "Addon %s has no version for Kubernetes %s.", name, minor)
		}
		return v.Version, nil
	}
	if _, ok := addoncatalog.Lookup(name, minor, want); !ok {
		var offered []string
		for _, v := range addoncatalog.Versions(name, minor) {
			offered = append(offered, v.Version)
		}
		return "", errdefs.Publicf(errdefs.ErrInvalidParameter, "Addon version %s specified is not supported for %s in Kubernetes %s. Supported versions: %s.",
			want, name, minor, strings.Join(offered, ", "))
	}
	return want, nil
}

// resolveConflicts checks resolveConflicts; NONE when unset, as EKS.
func resolveConflicts(v string) (string, error) {
	switch v {
	case "":
		return v1alpha1.ResolveConflictsNone, nil
	case v1alpha1.ResolveConflictsNone, v1alpha1.ResolveConflictsOverwrite, v1alpha1.ResolveConflictsPreserve:
		return v, nil
	}
	return "", errdefs.Publicf(errdefs.ErrInvalidParameter, "resolveConflicts %q is not valid: use NONE, OVERWRITE or PRESERVE.", v)
}

// configuration checks configurationValues against the add-on's schema.
func configuration(name, values string) error {
	if _, err := addoncatalog.ParseConfig(name, values); err != nil {
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "ConfigurationValue provided in request is not supported: %s.", err.Error())
	}
	return nil
}

// roleArn refuses serviceAccountRoleArn: IAM roles for service accounts
// do not reach tenant pods, so an add-on that names one would not run as
// the caller expects.
func roleArn(arn string) error {
	if arn != "" {
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "serviceAccountRoleArn is not supported: cellplane's add-ons run with their own service accounts.")
	}
	return nil
}
