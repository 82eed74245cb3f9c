package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AnnotationInsightsRefreshRequested asks the cell to compute the cluster's
// upgrade insights now (EKS StartInsightsRefresh): its value is the time of
// the request (RFC 3339 with nanoseconds), and the request is done once
// status.insights.request equals it. The agent copies it to the cell.
const AnnotationInsightsRefreshRequested = "cellplane.io/insights-refresh-requested"

// InsightsStatus is the cluster's last computed upgrade insights, written by
// the cell on request and daily. Its fields carry no omitempty: the cell
// sends it whole as a merge patch, and a field that became empty must clear.
type InsightsStatus struct {
	// Request is the value of AnnotationInsightsRefreshRequested that the
	// last refresh answered; empty for a daily refresh nobody asked for.
	// +optional
	Request string `json:"request"`
	// Phase is how the last refresh ended: COMPLETED or FAILED (EKS's
	// insights refresh statuses).
	// +optional
	Phase string `json:"phase"`
	// Message says what failed, or what the refresh found.
	// +optional
	Message string `json:"message"`
	// StartedAt and EndedAt bound the last refresh, in microseconds: a
	// refresh takes well under a second, and seconds would end it before
	// it started.
	// +optional
	StartedAt *metav1.MicroTime `json:"startedAt"`
	// +optional
	EndedAt *metav1.MicroTime `json:"endedAt"`
	// Items are the insights, sorted by ID.
	// +optional
	Items []ClusterInsight `json:"items"`
}

// ClusterInsight is one insight, as EKS's Insight shapes it.
type ClusterInsight struct {
	// ID is stable for the cluster and the check: a refresh keeps it.
	ID string `json:"id"`
	// Name, Category (UPGRADE_READINESS, MISCONFIGURATION,
	// ROLLBACK_READINESS) and KubernetesVersion (the minor it is about).
	Name     string `json:"name"`
	Category string `json:"category"`
	// +optional
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
	// +optional
	Description string `json:"description,omitempty"`
	// Status is PASSING, WARNING, ERROR or UNKNOWN; Reason says why.
	Status string `json:"status"`
	// +optional
	Reason string `json:"reason,omitempty"`
	// +optional
	Recommendation string `json:"recommendation,omitempty"`
	// LastRefreshTime is when it was computed; LastTransitionTime when its
	// status last changed.
	// +optional
	LastRefreshTime *metav1.Time `json:"lastRefreshTime,omitempty"`
	// +optional
	LastTransitionTime *metav1.Time `json:"lastTransitionTime,omitempty"`
	// +optional
	AdditionalInfo map[string]string `json:"additionalInfo,omitempty"`
	// Resources are the Kubernetes objects the insight is about.
	// +optional
	Resources []InsightResource `json:"resources,omitempty"`
	// Deprecations are the deprecated APIs in use, for a deprecated-API insight.
	// +optional
	Deprecations []InsightDeprecation `json:"deprecations,omitempty"`
	// Addons are the add-ons and their compatible versions, for the add-on
	// compatibility insight.
	// +optional
	Addons []InsightAddon `json:"addons,omitempty"`
}

// InsightResource is one Kubernetes object an insight is about.
type InsightResource struct {
	// KubernetesResourceURI is the object's path, for example /api/v1/nodes/n1.
	KubernetesResourceURI string `json:"kubernetesResourceUri"`
	Status                string `json:"status"`
	// +optional
	Reason string `json:"reason,omitempty"`
}

// InsightDeprecation is one deprecated API and the clients that call it.
type InsightDeprecation struct {
	// Usage is the API's path, for example /apis/networking.k8s.io/v1beta1/servicecidrs.
	Usage string `json:"usage"`
	// +optional
	ReplacedWith string `json:"replacedWith,omitempty"`
	// StopServingVersion is the minor that no longer serves it.
	// +optional
	StopServingVersion string `json:"stopServingVersion,omitempty"`
	// +optional
	StartServingReplacementVersion string `json:"startServingReplacementVersion,omitempty"`
	// Clients are the user agents that called it in the last 30 days, most
	// requests first.
	// +optional
	Clients []InsightClient `json:"clients,omitempty"`
}

// InsightClient is one user agent's use of a deprecated API.
type InsightClient struct {
	UserAgent string `json:"userAgent"`
	// Requests counts its requests in the last 30 days.
	Requests int32 `json:"requests"`
	// +optional
	LastRequestTime *metav1.Time `json:"lastRequestTime,omitempty"`
}

// InsightAddon is an add-on and its versions compatible with the insight's
// Kubernetes version.
type InsightAddon struct {
	Name string `json:"name"`
	// +optional
	Version string `json:"version,omitempty"`
	// +optional
	CompatibleVersions []string `json:"compatibleVersions,omitempty"`
}
