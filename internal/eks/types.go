package eks

import (
	"encoding/json"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// Cluster statuses as EKS spells them; the same strings the Cluster resource stores.
const (
	StatusCreating = v1alpha1.StatusCreating
	StatusActive   = v1alpha1.StatusActive
	StatusDeleting = v1alpha1.StatusDeleting
	StatusUpdating = v1alpha1.StatusUpdating
	StatusFailed   = v1alpha1.StatusFailed
)

// IssueInternalFailure is the EKS ClusterIssueCode for a control plane that failed
// for a reason inside the service.
const IssueInternalFailure = "InternalFailure"

// Cluster is EKS's Cluster shape plus cellplane's extension. Fields cellplane has
// no meaning for (roleArn, resourcesVpcConfig) are echoed from the create request,
// so tools that read them keep working.
type Cluster struct {
	Name                 string            `json:"name,omitempty"`
	Arn                  string            `json:"arn,omitempty"`
	CreatedAt            *Timestamp        `json:"createdAt,omitempty"`
	Version              string            `json:"version,omitempty"`
	Endpoint             string            `json:"endpoint,omitempty"`
	RoleArn              string            `json:"roleArn,omitempty"`
	ResourcesVpcConfig   json.RawMessage   `json:"resourcesVpcConfig,omitempty"`
	Status               string            `json:"status,omitempty"`
	CertificateAuthority *Certificate      `json:"certificateAuthority,omitempty"`
	ClientRequestToken   string            `json:"clientRequestToken,omitempty"`
	PlatformVersion      string            `json:"platformVersion,omitempty"`
	Tags                 map[string]string `json:"tags"` // always sent, as EKS does
	Health               *ClusterHealth    `json:"health,omitempty"`
	// DeletionProtection is always sent, as EKS does.
	DeletionProtection *bool `json:"deletionProtection,omitempty"`
	// UpgradePolicy is always sent: EXTENDED unless the cluster chose STANDARD.
	UpgradePolicy *UpgradePolicy `json:"upgradePolicy,omitempty"`
	// EncryptionConfig is the key the cluster's Secrets are bound to, if any.
	EncryptionConfig []EncryptionConfig `json:"encryptionConfig,omitempty"`
	// AccessConfig is how principals sign in to the cluster.
	AccessConfig *AccessConfig `json:"accessConfig,omitempty"`

	// Cellplane is not part of EKS: it shows where the cluster runs and how far
	// its creation got, so `describe` can report progress. SDKs ignore it.
	Cellplane *Extension `json:"cellplane,omitempty"`
}

// Certificate is EKS's certificateAuthority object.
type Certificate struct {
	// Data is the base64-encoded CA certificate of the cluster.
	Data string `json:"data,omitempty"`
	// Active names the CA that signs, while a rotation allows several.
	Active *ActiveCertificateAuthority `json:"active,omitempty"`
}

// ClusterHealth is EKS's health object.
type ClusterHealth struct {
	Issues []ClusterIssue `json:"issues"`
}

// ClusterIssue is one health issue of a cluster.
type ClusterIssue struct {
	Code        string   `json:"code,omitempty"`
	Message     string   `json:"message,omitempty"`
	ResourceIDs []string `json:"resourceIds,omitempty"`
}

// Extension is the "cellplane" object inside a Cluster: the cell's view of the
// control plane.
type Extension struct {
	Cell              string      `json:"cell,omitempty"`
	Reason            string      `json:"reason,omitempty"`
	KubernetesVersion string      `json:"kubernetesVersion,omitempty"`
	Components        []Component `json:"components,omitempty"`
	Conditions        []Condition `json:"conditions,omitempty"`
	Etcd              *EtcdHealth `json:"etcd,omitempty"`
	Backup            *Backup     `json:"backup,omitempty"`
	Restore           *Restore    `json:"restore,omitempty"`
	// EtcdMembership says when the cluster's etcd formed and which members
	// were replaced after losing their data.
	EtcdMembership *EtcdMembership `json:"etcdMembership,omitempty"`
	// Rollout is the cluster's latest change of release (an upgrade, a
	// rollback), under way or ended.
	Rollout *Rollout `json:"rollout,omitempty"`
	// BringUp is the cluster's place in its cell's queue of control planes
	// to start, while it is CREATING.
	BringUp *BringUp `json:"bringUp,omitempty"`
}

// BringUp is a CREATING cluster's admission: queued (QueuePosition 1 is
// next) or admitted to start.
type BringUp struct {
	QueuePosition int32      `json:"queuePosition,omitempty"`
	QueuedAt      *Timestamp `json:"queuedAt,omitempty"`
	AdmittedAt    *Timestamp `json:"admittedAt,omitempty"`
}

// UpgradePolicy is EKS's upgradePolicy: how long a cluster stays on its
// minor before it is upgraded automatically.
type UpgradePolicy struct {
	SupportType string `json:"supportType,omitempty"`
}

// Rollout is a change of the release a control plane runs as the cell
// carries it out, member by member.
type Rollout struct {
	Type     string `json:"type"`
	UpdateID string `json:"updateId,omitempty"`
	From     string `json:"from"`
	To       string `json:"to"`
	// Phase is RestorePoint, Members, Successful, Failed or Cancelled.
	Phase string `json:"phase"`
	// Moved are the members that run To; Current the one moving.
	Moved     []string `json:"moved,omitempty"`
	Current   string   `json:"current,omitempty"`
	Reverting bool     `json:"reverting,omitempty"`
	// RestorePointRevision is the etcd revision of the full backup taken
	// before anything moved.
	RestorePointRevision int64      `json:"restorePointRevision,omitempty"`
	Message              string     `json:"message,omitempty"`
	Error                string     `json:"error,omitempty"`
	StartedAt            *Timestamp `json:"startedAt,omitempty"`
	FinishedAt           *Timestamp `json:"finishedAt,omitempty"`
}

// EtcdMembership is the cell's record of the cluster's etcd members.
type EtcdMembership struct {
	BootstrappedAt *Timestamp          `json:"bootstrappedAt,omitempty"`
	Replacements   []MemberReplacement `json:"replacements,omitempty"`
}

// MemberReplacement is one etcd member added back under a new ID after
// losing its data: Joining while it catches up as a learner, then Promoted.
type MemberReplacement struct {
	Member     string     `json:"member"`
	LearnerID  string     `json:"learnerId,omitempty"`
	Phase      string     `json:"phase"`
	StartedAt  *Timestamp `json:"startedAt,omitempty"`
	PromotedAt *Timestamp `json:"promotedAt,omitempty"`
}

// Restore is the cluster's last restore of etcd: in place, or from another
// cluster's backups when it was created.
type Restore struct {
	RequestID    string     `json:"requestId,omitempty"`
	Reason       string     `json:"reason,omitempty"`
	Phase        string     `json:"phase,omitempty"`
	Set          string     `json:"set,omitempty"`
	FullRevision int64      `json:"fullRevision,omitempty"`
	Revision     int64      `json:"revision,omitempty"`
	StartedAt    *Timestamp `json:"startedAt,omitempty"`
	FinishedAt   *Timestamp `json:"finishedAt,omitempty"`
	Message      string     `json:"message,omitempty"`
}

// EtcdHealth is the health of a cluster's etcd as its cell last saw it.
type EtcdHealth struct {
	Members             []EtcdMember `json:"members,omitempty"`
	Leader              string       `json:"leader,omitempty"`
	Quorum              bool         `json:"quorum"`
	QuotaBytes          int64        `json:"quotaBytes,omitempty"`
	Alarms              []string     `json:"alarms,omitempty"`
	LastDefragmentation *Timestamp   `json:"lastDefragmentation,omitempty"`
	LastCompaction      *Timestamp   `json:"lastCompaction,omitempty"`
	Message             string       `json:"message,omitempty"`
	ObservedAt          *Timestamp   `json:"observedAt,omitempty"`
}

// EtcdMember is one etcd member.
type EtcdMember struct {
	Name             string `json:"name"`
	ID               string `json:"id,omitempty"`
	Zone             string `json:"zone,omitempty"`
	Leader           bool   `json:"leader,omitempty"`
	Learner          bool   `json:"learner,omitempty"`
	Healthy          bool   `json:"healthy"`
	DBSizeBytes      int64  `json:"dbSizeBytes,omitempty"`
	DBSizeInUseBytes int64  `json:"dbSizeInUseBytes,omitempty"`
	Error            string `json:"error,omitempty"`
}

// Backup is the state of a cluster's backups.
type Backup struct {
	Location          string     `json:"location,omitempty"`
	Set               string     `json:"set,omitempty"`
	LastFullTime      *Timestamp `json:"lastFullTime,omitempty"`
	LastFullRevision  int64      `json:"lastFullRevision,omitempty"`
	LastFullBytes     int64      `json:"lastFullBytes,omitempty"`
	LastSuccessTime   *Timestamp `json:"lastSuccessTime,omitempty"`
	Revision          int64      `json:"revision,omitempty"`
	RecoveryPointTime *Timestamp `json:"recoveryPointTime,omitempty"`
	Fulls             int32      `json:"fulls,omitempty"`
	LastError         string     `json:"lastError,omitempty"`
}

// Component is one process of a control plane as last observed by its cell.
type Component struct {
	Name     string `json:"name"`
	Zone     string `json:"zone,omitempty"`
	Address  string `json:"address,omitempty"`
	PID      int    `json:"pid,omitempty"`
	Ready    bool   `json:"ready"`
	Restarts int32  `json:"restarts,omitempty"`
	Message  string `json:"message,omitempty"`
}

// Condition is one condition of a control plane (PKIReady, EtcdReady, ...).
type Condition struct {
	Type               string     `json:"type"`
	Status             string     `json:"status"`
	Reason             string     `json:"reason,omitempty"`
	Message            string     `json:"message,omitempty"`
	LastTransitionTime *Timestamp `json:"lastTransitionTime,omitempty"`
}
