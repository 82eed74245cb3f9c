package eks

// Insight categories, statuses and refresh statuses, as EKS spells them.
const (
	InsightCategoryUpgradeReadiness  = "UPGRADE_READINESS"
	InsightCategoryMisconfiguration  = "MISCONFIGURATION"
	InsightCategoryRollbackReadiness = "ROLLBACK_READINESS"

	InsightStatusPassing = "PASSING"
	InsightStatusWarning = "WARNING"
	InsightStatusError   = "ERROR"
	InsightStatusUnknown = "UNKNOWN"

	InsightsRefreshInProgress = "IN_PROGRESS"
	InsightsRefreshFailed     = "FAILED"
	InsightsRefreshCompleted  = "COMPLETED"
)

// ListInsights paging bounds (EKS's ListInsightsMaxResults: 1 to 100).
const (
	MinListInsightsResults     = 1
	MaxListInsightsResults     = 100
	DefaultListInsightsResults = 100
)

// InsightStatus is an insight's verdict and why.
type InsightStatus struct {
	Status string `json:"status,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// InsightSummary is one insight as ListInsights shows it.
type InsightSummary struct {
	ID                 string         `json:"id"`
	Name               string         `json:"name"`
	Category           string         `json:"category"`
	KubernetesVersion  string         `json:"kubernetesVersion,omitempty"`
	LastRefreshTime    *Timestamp     `json:"lastRefreshTime,omitempty"`
	LastTransitionTime *Timestamp     `json:"lastTransitionTime,omitempty"`
	Description        string         `json:"description,omitempty"`
	InsightStatus      *InsightStatus `json:"insightStatus,omitempty"`
}

// Insight is one insight as DescribeInsight shows it.
type Insight struct {
	InsightSummary
	Recommendation          string                          `json:"recommendation,omitempty"`
	AdditionalInfo          map[string]string               `json:"additionalInfo,omitempty"`
	Resources               []InsightResourceDetail         `json:"resources,omitempty"`
	CategorySpecificSummary *InsightCategorySpecificSummary `json:"categorySpecificSummary,omitempty"`
}

// InsightResourceDetail is one Kubernetes resource (or AWS resource) an
// insight is about.
type InsightResourceDetail struct {
	InsightStatus         *InsightStatus `json:"insightStatus,omitempty"`
	KubernetesResourceURI string         `json:"kubernetesResourceUri,omitempty"`
	ARN                   string         `json:"arn,omitempty"`
}

// InsightCategorySpecificSummary holds the details of an upgrade insight.
type InsightCategorySpecificSummary struct {
	DeprecationDetails        []DeprecationDetail        `json:"deprecationDetails,omitempty"`
	AddonCompatibilityDetails []AddonCompatibilityDetail `json:"addonCompatibilityDetails,omitempty"`
}

// DeprecationDetail is one deprecated API and who still calls it.
type DeprecationDetail struct {
	Usage                          string       `json:"usage,omitempty"`
	ReplacedWith                   string       `json:"replacedWith,omitempty"`
	StopServingVersion             string       `json:"stopServingVersion,omitempty"`
	StartServingReplacementVersion string       `json:"startServingReplacementVersion,omitempty"`
	ClientStats                    []ClientStat `json:"clientStats,omitempty"`
}

// ClientStat is one user agent's use of a deprecated API.
type ClientStat struct {
	UserAgent                  string     `json:"userAgent,omitempty"`
	NumberOfRequestsLast30Days int        `json:"numberOfRequestsLast30Days"`
	LastRequestTime            *Timestamp `json:"lastRequestTime,omitempty"`
}

// AddonCompatibilityDetail names an add-on and its versions compatible with
// the insight's Kubernetes version.
type AddonCompatibilityDetail struct {
	Name               string   `json:"name,omitempty"`
	CompatibleVersions []string `json:"compatibleVersions,omitempty"`
}

// InsightsFilter narrows ListInsights; an empty list matches everything.
type InsightsFilter struct {
	Categories         []string `json:"categories,omitempty"`
	KubernetesVersions []string `json:"kubernetesVersions,omitempty"`
	Statuses           []string `json:"statuses,omitempty"`
}

// ListInsightsInput is the body of POST /clusters/{name}/insights.
type ListInsightsInput struct {
	Filter     *InsightsFilter `json:"filter,omitempty"`
	MaxResults *int            `json:"maxResults,omitempty"`
	NextToken  string          `json:"nextToken,omitempty"`
}

// ListInsightsOutput is the body ListInsights answers.
type ListInsightsOutput struct {
	Insights  []InsightSummary `json:"insights"`
	NextToken string           `json:"nextToken,omitempty"`
}

// DescribeInsightOutput is the body DescribeInsight answers.
type DescribeInsightOutput struct {
	Insight *Insight `json:"insight"`
}

// StartInsightsRefreshOutput is the body StartInsightsRefresh answers.
type StartInsightsRefreshOutput struct {
	Message string `json:"message,omitempty"`
	Status  string `json:"status,omitempty"`
}

// DescribeInsightsRefreshOutput is the body DescribeInsightsRefresh answers.
type DescribeInsightsRefreshOutput struct {
	Message   string     `json:"message,omitempty"`
	Status    string     `json:"status,omitempty"`
	StartedAt *Timestamp `json:"startedAt,omitempty"`
	EndedAt   *Timestamp `json:"endedAt,omitempty"`
}
