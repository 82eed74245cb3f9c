package region

import (
	"context"
	"fmt"

	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/cellplane/cellplane/internal/logging"
	"github.com/cellplane/cellplane/internal/region/rollouts"
	"github.com/cellplane/cellplane/internal/store"
)

// startRollouts runs the region's platform rollout controller until runCtx
// ends. Its state is all in the region's store, so a restart resumes every
// rollout where its status says it is.
func (s *Service) startRollouts(runCtx context.Context) error {
	sc, err := store.Scheme()
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(s.region.RESTConfig(), ctrl.Options{
		Scheme:                 sc,
		Logger:                 logging.Quiet(s.cfg.Logger),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return fmt.Errorf("creating the region's controller manager: %w", err)
	}
	r := &rollouts.Reconciler{Client: mgr.GetClient(), Logger: s.cfg.Logger.With("controller", "platformrollouts")}
	if err := r.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up platform rollouts: %w", err)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.fatal("platform rollouts", mgr.Start(runCtx))
	}()
	return nil
}
