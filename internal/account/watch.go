package account

import (
	"context"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
)

// KeyEvents receives what WatchKeys sees.
type KeyEvents struct {
	// Changed gets the ID of every access key whose object is created,
	// changed (activated, deactivated) or deleted.
	Changed func(akid string)
	// Lost is called when the watch broke: changes may be missed until it
	// has listed the keys again, which reports every key as changed.
	Lost func()
}

// WatchKeys watches the access keys' objects in the store cfg reaches until
// ctx ends, so caches of looked-up keys can forget a key the moment it
// changes. It watches metadata only: names and versions, never the sealed
// secrets. It returns once the watch is set up; synced reports when the
// first list is done.
func WatchKeys(ctx context.Context, cfg *rest.Config, ev KeyEvents) (synced func() bool, err error) {
	mc, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("watching access keys: %w", err)
	}
	secrets := schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	inf := metadatainformer.NewFilteredMetadataInformer(mc, secrets, Namespace, 0, toolscache.Indexers{},
		func(o *metav1.ListOptions) { o.LabelSelector = LabelKind + "=" + kindKey }).Informer()
	err = inf.SetWatchErrorHandlerWithContext(func(ctx context.Context, r *toolscache.Reflector, err error) {
		ev.Lost()
		toolscache.DefaultWatchErrorHandler(ctx, r, err)
	})
	if err != nil {
		return nil, fmt.Errorf("watching access keys: %w", err)
	}
	changed := func(obj any) {
		if akid, ok := keyIDOf(obj); ok {
			ev.Changed(akid)
		}
	}
	_, err = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    changed,
		UpdateFunc: func(_, obj any) { changed(obj) },
		DeleteFunc: changed,
	})
	if err != nil {
		return nil, fmt.Errorf("watching access keys: %w", err)
	}
	go inf.RunWithContext(ctx)
	return inf.HasSynced, nil
}

// keyIDOf names the access key of a watched object, including the tombstone
// of one deleted while the watch was down.
func keyIDOf(obj any) (string, bool) {
	if t, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	m, ok := obj.(metav1.Object)
	if !ok || !strings.HasPrefix(m.GetName(), "accesskey-") {
		return "", false
	}
	return strings.ToUpper(strings.TrimPrefix(m.GetName(), "accesskey-")), true
}
