package addons

import (
	"context"
	"errors"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kversion "k8s.io/apimachinery/pkg/util/version"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/addoncatalog"
	"github.com/cellplane/cellplane/internal/clusterupdates"
)

// Bootstrap gives a new cluster its default add-ons, every offered add-on
// at its default version for the cluster's minor, as EKS does unless
// CreateCluster's bootstrapSelfManagedAddons is false (enabled false). A
// retried CreateCluster finds them stored and leaves them be. They resolve
// conflicts as CreateAddon does by default, NONE: a manual edit of a default
// add-on's objects is reported, not silently reverted on the next resync.
func (o *Operations) Bootstrap(ctx context.Context, c *v1alpha1.Cluster, enabled bool) error {
	if !enabled || c.DeletionTimestamp != nil {
		return nil
	}
	for _, name := range addoncatalog.Names() {
		v, ok := addoncatalog.Default(name, c.Spec.Version)
		if !ok {
			continue
		}
		now := metav1.Now()
		spec := v1alpha1.AddonSpec{ClusterName: c.Spec.Name, AddonName: name, AddonVersion: v.Version, ID: clusterupdates.NewUUID(),
			ResolveConflicts: v1alpha1.ResolveConflictsNone, CreatedAt: now, ModifiedAt: now}
		// store replaces an add-on an earlier cluster of the name left
		// behind, and answers the retry of this create with its add-on; one
		// the caller created since is theirs to keep.
		if _, err := o.store(ctx, c, spec, bootstrapToken); err != nil && !errors.Is(err, o.InUse) {
			return fmt.Errorf("storing default add-on %s of cluster %s: %w", name, c.Spec.Name, err)
		}
	}
	return nil
}

// bootstrapToken marks the default add-ons as CreateAddon's token marks
// its add-on, so a retried CreateCluster finds them its own.
const bootstrapToken = "cellplane-bootstrap"

// compareVersions orders add-on versions (v1.35.4-eksbuild.1) by release,
// then by build number.
func compareVersions(a, b string) int {
	va, errA := kversion.ParseGeneric(a)
	vb, errB := kversion.ParseGeneric(b)
	if errA != nil || errB != nil {
		return strings.Compare(a, b)
	}
	if c := va.AtLeast(vb); !c {
		return -1
	}
	if !vb.AtLeast(va) {
		return 1
	}
	return strings.Compare(a, b)
}
