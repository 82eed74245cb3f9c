package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Cluster statuses, spelled as EKS spells them on the wire.
const (
	StatusCreating = "CREATING"
	StatusActive   = "ACTIVE"
	StatusUpdating = "UPDATING"
	StatusDeleting = "DELETING"
	StatusFailed   = "FAILED"
)

// Condition types reported on a Cluster.
const (
	// ConditionPKIReady: every certificate and key of the cluster exists and verifies.
	ConditionPKIReady = "PKIReady"
	// ConditionEtcdReady: all etcd members answer /health over mutual TLS.
	ConditionEtcdReady = "EtcdReady"
	// ConditionAPIServersReady: every kube-apiserver answers /readyz.
	ConditionAPIServersReady = "APIServersReady"
	// ConditionControllersReady: controller-manager and scheduler instances are healthy.
	ConditionControllersReady = "ControllersReady"
	// ConditionEndpointReady: an authenticated request through the endpoint succeeds.
	ConditionEndpointReady = "EndpointReady"
	// ConditionReady summarises the others: the cluster is ACTIVE.
	ConditionReady = "Ready"
	// ConditionEtcdQuorum: a majority of etcd's voting members is healthy and
	// agrees on one leader, per status.etcd. Informational: Ready does not use it.
	ConditionEtcdQuorum = "EtcdQuorum"
	// ConditionEtcdLeader: etcd has a leader and every member follows it, per
	// status.etcd.
	ConditionEtcdLeader = "EtcdLeader"
	// ConditionRestored: the etcd data of a cluster created with
	// spec.restoreFrom is restored, incrementals included. Only such clusters
	// have it.
	ConditionRestored = "Restored"
	// ConditionSecretsEncryption: the cluster has its keys for Secrets; the
	// message names the key new Secrets are sealed under, and the reason is
	// Rotating while a key rotation is under way.
	ConditionSecretsEncryption = "SecretsEncryption"
	// ConditionEtcdMembers: every etcd member has its data and votes. False
	// while a member whose data was lost is replaced, or while etcd is
	// restored in place after losing quorum for good.
	ConditionEtcdMembers = "EtcdMembers"
	// ConditionZoneShifted: a zone is shifted out of the cell and the cluster
	// is evacuated from it. Only clusters of a cell with a zone shift have it.
	ConditionZoneShifted = "ZoneShifted"
	// ConditionChangesPaused is True while the cell holds back a change that
	// would restart the cluster's components (a version upgrade) because a zone
	// is out of rotation; it resumes when the zone is back.
	ConditionChangesPaused = "ChangesPaused"
)

// Finalizers.
const (
	// CellFinalizer keeps a cell's Cluster until its processes and files are gone.
	CellFinalizer = "cellplane.io/control-plane"
	// RegionFinalizer keeps the region's Cluster until its cell has let go of it.
	RegionFinalizer = "cellplane.io/cell-release"
)

// Labels and annotations.
const (
	// LabelCell names the cell a Cluster is placed in.
	LabelCell = "cellplane.io/cell"
	// LabelAccount names the account that owns a Cluster.
	LabelAccount = "cellplane.io/account"
	// LabelKubeconfigFor marks a cluster's admin-kubeconfig Secret with the
	// cluster's object name: the cell publishes it, the agent copies it to
	// the region.
	LabelKubeconfigFor = "cellplane.io/kubeconfig-for"
	// AnnotationBackupRequested asks the cell for a full backup now: its value
	// is the time of the request (RFC 3339), and the request is done once
	// status.backup.lastFullTime is after it. The agent copies it to the cell.
	AnnotationBackupRequested = "cellplane.io/backup-requested"
	// AnnotationRestoreRequested asks the cell to restore the cluster's etcd in
	// place from its own backups. Its value is a RestoreRequest in JSON; the
	// request is done once status.restore.requestID equals its ID and
	// status.restore.phase is Done or Failed. The agent copies it to the cell.
	AnnotationRestoreRequested = "cellplane.io/restore-requested"
	// AnnotationKeyRotationRequested asks the cell to rotate the cluster's key
	// for Secrets: its value is the time of the request (RFC 3339); the cell
	// seals every Secret under a new key, then retires the old ones. The
	// agent copies it to the cell.
	AnnotationKeyRotationRequested = "cellplane.io/secrets-key-rotation-requested"
	// AnnotationMaxClusters, on an account's namespace in the region store,
	// is the operator's override of how many clusters the account may have
	// (a decimal count; the regional API's default applies without it).
	AnnotationMaxClusters = "cellplane.io/max-clusters"
)

// RestoreRequest is the value of AnnotationRestoreRequested.
type RestoreRequest struct {
	// ID tells requests apart: the time of the request, RFC 3339 with nanoseconds.
	ID string `json:"id"`
	// Revision is the etcd revision to restore to; zero means the newest the
	// backups cover.
	Revision int64 `json:"revision,omitempty"`
	// Set is the UID of the backup set to restore from; empty means the
	// cluster's own (its current UID).
	Set string `json:"set,omitempty"`
}

// Restore phases, in order; Failed may end any of them.
const (
	RestorePhaseRestoring = "Restoring" // members stopped, the full being restored into them
	RestorePhaseReplaying = "Replaying" // etcd up again, incrementals being replayed
	RestorePhaseDone      = "Done"
	RestorePhaseFailed    = "Failed"
)

// Why a restore ran.
const (
	RestoreReasonRequested  = "Requested"  // backup restore asked for it
	RestoreReasonQuorumLost = "QuorumLost" // a majority of etcd members lost their data
	// RestoreReasonCreated: the cluster was created from another's backups
	// (spec.restoreFrom); its phases are Restoring, Replaying and Done too.
	RestoreReasonCreated = "CreatedFromBackup"
)

// Member replacement phases, in order.
const (
	ReplacementJoining  = "Joining"  // added back as a learner, catching up
	ReplacementPromoted = "Promoted" // a voting member again
)

// EtcdMembership is the cell's record of how the cluster's etcd members came
// to be, mirrored from the crash-safe records the cell keeps beside the
// members so that a crash at any step resumes: when the cluster's etcd first
// formed, and which members were replaced after losing their data.
type EtcdMembership struct {
	// BootstrappedAt is when every member first served together. From then on
	// a member is never started on an empty data directory: one without its
	// data is replaced through a learner instead.
	// +optional
	BootstrappedAt *metav1.Time `json:"bootstrappedAt,omitempty"`
	// Replacements lists the members replaced after losing their data, the
	// ones in progress and the ones done.
	// +optional
	Replacements []MemberReplacement `json:"replacements,omitempty"`
}

// MemberReplacement is one etcd member removed after losing its data and
// added back under a new ID.
type MemberReplacement struct {
	// Member is the member's name, e.g. etcd-c.
	Member string `json:"member"`
	// LearnerID is the member's new ID, in hex as etcd prints it.
	LearnerID string `json:"learnerID"`
	// Phase is Joining or Promoted.
	Phase string `json:"phase"`
	// StartedAt is when the learner was added; PromotedAt when it became a voter.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// +optional
	PromotedAt *metav1.Time `json:"promotedAt,omitempty"`
}

// RestoreStatus is the state of the cluster's last restore: in place, or
// from another cluster's backups when it was created.
type RestoreStatus struct {
	// RequestID is the ID of the RestoreRequest this restore answers; empty
	// for a restore etcd care started on its own.
	// +optional
	RequestID string `json:"requestID,omitempty"`
	// Reason is Requested, QuorumLost or CreatedFromBackup.
	Reason string `json:"reason"`
	// Phase is Restoring, Replaying, Done or Failed.
	Phase string `json:"phase"`
	// Set, FullRevision and Revision say what is restored: the backup set, the
	// full snapshot's revision and the revision the incrementals reach.
	// +optional
	Set string `json:"set,omitempty"`
	// +optional
	FullRevision int64 `json:"fullRevision,omitempty"`
	// +optional
	Revision int64 `json:"revision,omitempty"`
	// StartedAt and FinishedAt bound the restore.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
	// Message says what is happening, or why the restore failed.
	// +optional
	Message string `json:"message,omitempty"`
}

// ClusterSpec is what the tenant asked for.
type ClusterSpec struct {
	// Name is the cluster's name as the tenant spelled it (EKS rules: letters,
	// digits, hyphens and underscores). The object name is derived from it.
	Name string `json:"name"`

	// Version is the Kubernetes minor, for example "1.35".
	Version string `json:"version"`

	// VersionUpdateID is the update (UpdateClusterVersion) that last set
	// Version, so the cell tells a new attempt at a version from one it
	// already finished, failed or cancelled. Empty for the version the
	// cluster was created with.
	// +optional
	VersionUpdateID string `json:"versionUpdateID,omitempty"`

	// UpgradePolicy is EKS's upgradePolicy: whether the cluster may stay on
	// its minor into extended support, or is upgraded when standard support
	// ends.
	// +optional
	UpgradePolicy *UpgradePolicy `json:"upgradePolicy,omitempty"`

	// PlatformVersion is the platform version (cellplane.N) the cluster
	// should run: what cellplane sets around the upstream binaries. Empty
	// means the minor's default. Platform rollouts set it.
	// +optional
	PlatformVersion string `json:"platformVersion,omitempty"`

	// Cell is the cell the region placed the cluster in.
	// +optional
	Cell string `json:"cell,omitempty"`

	// Tags are the tenant's key-value tags.
	// +optional
	Tags map[string]string `json:"tags,omitempty"`

	// ClientRequestToken is the idempotency token of the create call.
	// +optional
	ClientRequestToken string `json:"clientRequestToken,omitempty"`

	// EtcdQuotaBytes is the etcd backend quota of each member
	// (--quota-backend-bytes); DefaultEtcdQuotaBytes when zero.
	// +optional
	EtcdQuotaBytes int64 `json:"etcdQuotaBytes,omitempty"`

	// DeletionProtection, as EKS has it: while true, the region refuses to
	// delete the cluster once it is ACTIVE (a CREATING or FAILED cluster can
	// still be deleted, so a create that never finishes is not stuck).
	// UpdateClusterConfig turns it off. Off by default, as on EKS.
	// +optional
	DeletionProtection bool `json:"deletionProtection,omitempty"`

	// RestoreFrom fills the new cluster's etcd from another cluster's backups
	// before its control plane first starts. Immutable: it only means something
	// at creation.
	// +optional
	RestoreFrom *RestoreSource `json:"restoreFrom,omitempty"`

	// CertificateAuthorities are the Kubernetes CAs the cluster trusts, in
	// the order the trust bundle lists them, one of them the signer. Empty
	// until the tenant first rotates the CA: the cluster then has the one CA
	// the cell made for it.
	// +optional
	CertificateAuthorities []CertificateAuthority `json:"certificateAuthorities,omitempty"`

	// Encryption binds the cluster's Secrets to a customer key of the
	// region's key service (EKS encryptionConfig). Set once: EKS cannot
	// disassociate a key either.
	// +optional
	Encryption *EncryptionSpec `json:"encryption,omitempty"`

	// AccessConfig is how principals sign in to the cluster (EKS
	// accessConfig). Clusters stored before it existed have none and are
	// served as API_AND_CONFIG_MAP without a bootstrap entry.
	// +optional
	AccessConfig *AccessConfig `json:"accessConfig,omitempty"`
	// IdentityProviders are the OIDC identity providers whose ID tokens the
	// cluster's API servers accept (EKS AssociateIdentityProviderConfig).
	// EKS allows one per cluster; one being disassociated still counts
	// until every API server has dropped it.
	// +optional
	// +kubebuilder:validation:MaxItems=1
	IdentityProviders []OIDCIdentityProvider `json:"identityProviders,omitempty"`
}

// UpgradePolicy is a cluster's EKS upgradePolicy.
type UpgradePolicy struct {
	// SupportType is STANDARD (upgraded automatically when standard support
	// of its minor ends) or EXTENDED (kept until extended support ends).
	// +kubebuilder:validation:Enum=STANDARD;EXTENDED
	SupportType string `json:"supportType"`
}

// Support types of an upgrade policy.
const (
	SupportStandard = "STANDARD"
	SupportExtended = "EXTENDED"
)

// AccessConfig is a cluster's EKS accessConfig. The cell reads the mode
// from its copy of the cluster: access entries count only in API and
// API_AND_CONFIG_MAP, the aws-auth ConfigMap only in CONFIG_MAP and
// API_AND_CONFIG_MAP.
type AccessConfig struct {
	// AuthenticationMode is API, API_AND_CONFIG_MAP or CONFIG_MAP. It only
	// ever moves from CONFIG_MAP towards API, as on EKS.
	// +kubebuilder:validation:Enum=API;API_AND_CONFIG_MAP;CONFIG_MAP
	AuthenticationMode string `json:"authenticationMode"`

	// BootstrapClusterCreatorAdminPermissions records whether the cluster's
	// creator was given a cluster-admin access entry at creation.
	// +optional
	BootstrapClusterCreatorAdminPermissions bool `json:"bootstrapClusterCreatorAdminPermissions,omitempty"`
}

// OIDCIdentityProvider is one OIDC identity provider configuration as the
// tenant associated it. The cell renders it into the API servers'
// structured authentication configuration, which they reload without a
// restart.
type OIDCIdentityProvider struct {
	// Name is the configuration's name (identityProviderConfigName).
	Name string `json:"name"`
	// ID tells this association apart from an earlier one of the same name:
	// it ends the configuration's ARN, and the cell reports the IDs every
	// API server has loaded.
	ID string `json:"id"`
	// IssuerURL is the https URL of the issuer, its tokens' iss claim.
	IssuerURL string `json:"issuerUrl"`
	// ClientID is the audience the ID tokens must carry.
	ClientID string `json:"clientId"`
	// UsernameClaim is the claim that names the user; "sub" when empty.
	// +optional
	UsernameClaim string `json:"usernameClaim,omitempty"`
	// UsernamePrefix is prepended to the user name; empty means EKS's
	// default (the issuer URL and "#" unless the claim is email), "-" none.
	// +optional
	UsernamePrefix string `json:"usernamePrefix,omitempty"`
	// GroupsClaim is the claim that lists the user's groups; none when empty.
	// +optional
	GroupsClaim string `json:"groupsClaim,omitempty"`
	// GroupsPrefix is prepended to every group name.
	// +optional
	GroupsPrefix string `json:"groupsPrefix,omitempty"`
	// RequiredClaims must each be present in a token with the given value.
	// +optional
	RequiredClaims map[string]string `json:"requiredClaims,omitempty"`
	// CertificateAuthority is the PEM bundle the API servers verify the
	// issuer's TLS certificate with (cellplane's extension); empty means the
	// system's roots.
	// +optional
	CertificateAuthority string `json:"certificateAuthority,omitempty"`
	// Tags are the configuration's own tags.
	// +optional
	Tags map[string]string `json:"tags,omitempty"`
	// Disassociating is set by DisassociateIdentityProviderConfig: the cell
	// drops the provider from the API servers' configuration, and the region
	// removes the entry once none of them has it loaded (status DELETING
	// until then).
	// +optional
	Disassociating bool `json:"disassociating,omitempty"`
}

// EncryptionSpec is the customer key a cluster's Secrets are bound to, with
// the key's state as the region last copied it from the key service: the cell
// acts on these fields alone, so it keeps acting while the region is down.
type EncryptionSpec struct {
	// KeyARN is the key's ARN as the tenant gave it.
	KeyARN string `json:"keyArn"`
	// KeyID is the key's UUID; the cluster's own keys are named after it.
	KeyID string `json:"keyId"`
	// KeyState is Enabled or Disabled: a disabled key leaves the cluster's
	// KMS plugins without keys.
	// +kubebuilder:validation:Enum=Enabled;Disabled
	KeyState string `json:"keyState"`
	// KeyGeneration is the key's generation; the cell rotates the cluster's
	// keys when it grows.
	// +kubebuilder:validation:Minimum=1
	KeyGeneration int64 `json:"keyGeneration"`
}

// RestoreSource names the backups a new cluster is restored from.
type RestoreSource struct {
	// Cluster is the source cluster's name, in the same account. The source may
	// be running or deleted: its backups outlive it.
	Cluster string `json:"cluster"`
	// Set is the UID of the backup set to restore (one per incarnation of the
	// source cluster); empty means the newest set that has a full backup.
	// +optional
	Set string `json:"set,omitempty"`
	// Revision is the source etcd revision to restore to; zero means the newest
	// the set covers.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Revision int64 `json:"revision,omitempty"`
}

// Etcd quota bounds.
const (
	DefaultEtcdQuotaBytes = 2 << 30
	MinEtcdQuotaBytes     = 16 << 20
	MaxEtcdQuotaBytes     = 8 << 30
)

// EtcdQuota is the quota the cluster's members run with.
func (s *ClusterSpec) EtcdQuota() int64 {
	if s.EtcdQuotaBytes == 0 {
		return DefaultEtcdQuotaBytes
	}
	return s.EtcdQuotaBytes
}

// EtcdMember is one etcd member as the cell last saw it.
type EtcdMember struct {
	// Name is the member's name, for example "etcd-a".
	Name string `json:"name"`
	// ID is the member ID in hex.
	// +optional
	ID string `json:"id,omitempty"`
	// Zone is the member's zone.
	// +optional
	Zone string `json:"zone,omitempty"`
	// Leader is true for the raft leader.
	// +optional
	Leader bool `json:"leader,omitempty"`
	// Learner is true while the member catches up before promotion.
	// +optional
	Learner bool `json:"learner,omitempty"`
	// Healthy is true when the member answers and agrees on the leader.
	Healthy bool `json:"healthy"`
	// DBSizeBytes and DBSizeInUseBytes are the backend file size and the part
	// of it holding live data; the difference is what defragmentation frees.
	// +optional
	DBSizeBytes int64 `json:"dbSizeBytes,omitempty"`
	// +optional
	DBSizeInUseBytes int64 `json:"dbSizeInUseBytes,omitempty"`
	// Error says why the member is not healthy.
	// +optional
	Error string `json:"error,omitempty"`
}

// EtcdStatus is the health of a cluster's etcd, kept by the cell's etcd care.
type EtcdStatus struct {
	// Members lists every member.
	// +optional
	Members []EtcdMember `json:"members,omitempty"`
	// Leader names the leader's member; empty without one.
	// +optional
	Leader string `json:"leader,omitempty"`
	// Quorum is true while a majority of voting members is healthy.
	Quorum bool `json:"quorum"`
	// QuotaBytes is the backend quota of each member.
	// +optional
	QuotaBytes int64 `json:"quotaBytes,omitempty"`
	// Alarms lists active alarms, for example "NOSPACE".
	// +optional
	Alarms []string `json:"alarms,omitempty"`
	// LastDefragmentation and LastCompaction are when etcd care last did each.
	// +optional
	LastDefragmentation *metav1.Time `json:"lastDefragmentation,omitempty"`
	// +optional
	LastCompaction *metav1.Time `json:"lastCompaction,omitempty"`
	// Message says what etcd care is doing or needs from the user.
	// +optional
	Message string `json:"message,omitempty"`
	// ObservedAt is when this was measured.
	// +optional
	ObservedAt *metav1.Time `json:"observedAt,omitempty"`
}

// BackupStatus is the state of a cluster's backups.
type BackupStatus struct {
	// Location is where the backups are kept (a directory or an s3:// URL).
	// +optional
	Location string `json:"location,omitempty"`
	// Set is the UID of the backup set the cell writes: the UID of its own copy
	// of the cluster. backup restore restores from it by default.
	// +optional
	Set string `json:"set,omitempty"`
	// LastFullTime, LastFullRevision and LastFullBytes describe the latest full
	// snapshot.
	// +optional
	LastFullTime *metav1.Time `json:"lastFullTime,omitempty"`
	// +optional
	LastFullRevision int64 `json:"lastFullRevision,omitempty"`
	// +optional
	LastFullBytes int64 `json:"lastFullBytes,omitempty"`
	// LastSuccessTime is when a backup (full or incremental) was last stored
	// and verified.
	// +optional
	LastSuccessTime *metav1.Time `json:"lastSuccessTime,omitempty"`
	// Revision is the newest etcd revision the backups cover.
	// +optional
	Revision int64 `json:"revision,omitempty"`
	// RecoveryPointTime is when the newest covered write was observed: data
	// written before it can be restored. Now minus this is the recovery point.
	// +optional
	RecoveryPointTime *metav1.Time `json:"recoveryPointTime,omitempty"`
	// Fulls counts the full snapshots kept.
	// +optional
	Fulls int32 `json:"fulls,omitempty"`
	// LastError is the last failure, cleared by the next success.
	// +optional
	LastError string `json:"lastError,omitempty"`
}

// BringUpStatus is a cluster's place in its cell's admission of bring-ups:
// the cell starts a few new control planes at a time, as many as the machine
// has capacity for, and queues the rest in the order they were created, so a
// burst of creates finishes one after another instead of all slowly.
type BringUpStatus struct {
	// QueuePosition is 1 for the next cluster to start, 2 for the one
	// after it, and so on; 0 once the cluster is admitted.
	// +optional
	QueuePosition int32 `json:"queuePosition,omitempty"`
	// QueuedAt is when the cell first saw the cluster waiting.
	// +optional
	QueuedAt *metav1.Time `json:"queuedAt,omitempty"`
	// AdmittedAt is when its processes were allowed to start. The create
	// timeout counts from here, not from the time spent queued.
	// +optional
	AdmittedAt *metav1.Time `json:"admittedAt,omitempty"`
}

// RolloutStatus is a change of the release a control plane runs, applied
// one member at a time: etcd, then API servers (each drained at the endpoint
// before it stops, healthy before the next), then controller managers and
// schedulers; the reverse order when going back. Each step is recorded before
// it is taken, so a cell restarted at any point carries on.
type RolloutStatus struct {
	// Type is VersionUpdate, VersionRollback or PlatformVersionUpdate.
	Type string `json:"type"`
	// UpdateID is the update that asked for the change (spec.versionUpdateID).
	// +optional
	UpdateID string `json:"updateID,omitempty"`
	// From and To are the exact versions left and wanted ("v1.36.3").
	From string `json:"from"`
	To   string `json:"to"`
	// FromPlatform and ToPlatform are the platform versions left and
	// wanted ("cellplane.2"); a platform rollout changes only these.
	// +optional
	FromPlatform string `json:"fromPlatform,omitempty"`
	// +optional
	ToPlatform string `json:"toPlatform,omitempty"`
	// Phase is RestorePoint (waiting for a full backup), Members, Successful,
	// Failed or Cancelled.
	Phase string `json:"phase"`
	// Moved lists the members that run To, in the order they moved.
	// +optional
	Moved []string `json:"moved,omitempty"`
	// Current is the member being moved (to To, or back to From while
	// Reverting), and CurrentSince when that began.
	// +optional
	Current string `json:"current,omitempty"`
	// +optional
	CurrentSince *metav1.Time `json:"currentSince,omitempty"`
	// Reverting is true while the moved members go back to From, after a
	// failed step or a cancel.
	// +optional
	Reverting bool `json:"reverting,omitempty"`
	// RestorePoint is the full backup taken before the first member moved.
	// +optional
	RestorePoint *RestorePoint `json:"restorePoint,omitempty"`
	// FromServes are the group versions ("apps/v1") the release left
	// served, read before the first member moved: a later rollback checks
	// that every stored object is one of them. ToServes is that list for
	// the release a rollback goes back to.
	// +optional
	FromServes []string `json:"fromServes,omitempty"`
	// +optional
	ToServes []string `json:"toServes,omitempty"`
	// Message says what is happening, in words; Error why it failed.
	// +optional
	Message string `json:"message,omitempty"`
	// +optional
	Error string `json:"error,omitempty"`
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
}

// RestorePoint is a full backup a rollout can be undone to.
type RestorePoint struct {
	Time     metav1.Time `json:"time"`
	Revision int64       `json:"revision"`
}

// Rollout phases.
const (
	RolloutRestorePoint = "RestorePoint"
	RolloutMembers      = "Members"
	RolloutSuccessful   = "Successful"
	RolloutFailed       = "Failed"
	RolloutCancelled    = "Cancelled"
)

// Finished reports whether the rollout has ended, one way or another.
func (r *RolloutStatus) Finished() bool {
	return r.Phase == RolloutSuccessful || r.Phase == RolloutFailed || r.Phase == RolloutCancelled
}

// ComponentStatus is one process of the control plane as last observed.
type ComponentStatus struct {
	// Name is the component instance, for example "etcd-a" or "kube-apiserver-b".
	Name string `json:"name"`
	// Zone is the zone the instance runs in.
	Zone string `json:"zone"`
	// Address is the instance's stable address (host:port).
	Address string `json:"address"`
	// PID is the operating-system process ID, when running.
	// +optional
	PID int `json:"pid,omitempty"`
	// Ready is true when the instance's health check passes.
	Ready bool `json:"ready"`
	// Restarts counts restarts after crashes.
	// +optional
	Restarts int32 `json:"restarts,omitempty"`
	// Message explains why the instance is not ready.
	// +optional
	Message string `json:"message,omitempty"`
}

// AuthenticationStatus is the authentication configuration (identity
// providers) that every API server of a cluster has loaded, as the cell
// read it from their apiserver_authentication_config_controller metrics.
type AuthenticationStatus struct {
	// ConfigHash is the hash of the configuration file every API server
	// reports as loaded ("sha256:<hex>", as kube-apiserver labels it).
	// +optional
	ConfigHash string `json:"configHash,omitempty"`
	// IdentityProviders are the IDs of the identity providers in it: the
	// ones tokens are accepted for on every API server.
	// +optional
	IdentityProviders []string `json:"identityProviders,omitempty"`
	// Message says which API server has not loaded the newest
	// configuration yet, and why if it refused it.
	// +optional
	Message string `json:"message,omitempty"`
	// ObservedAt is when the API servers were last asked.
	// +optional
	ObservedAt *metav1.Time `json:"observedAt,omitempty"`
}

// ClusterStatus is what the cell observed.
type ClusterStatus struct {
	// Status is one of CREATING, ACTIVE, UPDATING, DELETING, FAILED.
	// +optional
	Status string `json:"status,omitempty"`

	// Reason says, in words a user can act on, why the cluster is FAILED or not yet ACTIVE.
	// +optional
	Reason string `json:"reason,omitempty"`

	// Slot is the cluster's index in its cell's address plan. It fixes every
	// address of the cluster for its lifetime.
	// +optional
	Slot *int32 `json:"slot,omitempty"`

	// Endpoint is the cluster's API endpoint (https URL through the cell's load balancer).
	// +optional
	Endpoint string `json:"endpoint,omitempty"`

	// CertificateAuthorityData is the base64-encoded Kubernetes trust
	// bundle: every CA the cluster trusts (one outside a CA rotation).
	// +optional
	CertificateAuthorityData string `json:"certificateAuthorityData,omitempty"`

	// CertificateAuthorities are the Kubernetes CAs as the cell distributes
	// them, in the spec's order.
	// +optional
	CertificateAuthorities []CertificateAuthorityStatus `json:"certificateAuthorities,omitempty"`

	// KubernetesVersion is the exact version the control plane runs, for
	// example "v1.35.4". During a rollout it stays the version being left
	// until every member runs the new one.
	// +optional
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`

	// BringUp is the cluster's admission to start while it is CREATING:
	// queued, or admitted.
	// +optional
	BringUp *BringUpStatus `json:"bringUp,omitempty"`

	// Rollout is the cluster's latest change of release applied member by
	// member (an upgrade, a rollback): in progress, or how it ended.
	// +optional
	Rollout *RolloutStatus `json:"rollout,omitempty"`

	// PlatformVersion is the platform version every component of the
	// cluster last ran healthy with.
	// +optional
	PlatformVersion string `json:"platformVersion,omitempty"`

	// Components lists every process of the control plane.
	// +optional
	Components []ComponentStatus `json:"components,omitempty"`

	// ActiveAt is when the cluster first became ACTIVE.
	// +optional
	ActiveAt *metav1.Time `json:"activeAt,omitempty"`

	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Etcd is the health of the cluster's etcd.
	// +optional
	Etcd *EtcdStatus `json:"etcd,omitempty"`

	// Backup is the state of the cluster's backups.
	// +optional
	Backup *BackupStatus `json:"backup,omitempty"`

	// Restore is the cluster's last restore of etcd: in place, or from
	// another cluster's backups when it was created.
	// +optional
	Restore *RestoreStatus `json:"restore,omitempty"`

	// EtcdMembership says when the cluster's etcd formed and which members
	// were replaced after losing their data.
	// +optional
	EtcdMembership *EtcdMembership `json:"etcdMembership,omitempty"`

	// Authentication is what every API server of the cluster has loaded of
	// its structured authentication configuration.
	// +optional
	Authentication *AuthenticationStatus `json:"authentication,omitempty"`

	// Insights are the cluster's upgrade insights (EKS ListInsights), as
	// the cell last computed them.
	// +optional
	Insights *InsightsStatus `json:"insights,omitempty"`

	// Conditions report each part of the control plane.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Cluster is one tenant's Kubernetes control plane.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Name",type=string,JSONPath=`.spec.name`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.spec.version`
// +kubebuilder:printcolumn:name="Cell",type=string,JSONPath=`.spec.cell`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.status`
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=`.status.endpoint`
// +kubebuilder:printcolumn:name="Etcd",type=string,JSONPath=`.status.conditions[?(@.type=="EtcdMembers")].reason`
// +kubebuilder:printcolumn:name="Restore",type=string,JSONPath=`.status.restore.phase`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Cluster struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ClusterSpec   `json:"spec,omitempty"`
	Status ClusterStatus `json:"status,omitempty"`
}

// ClusterList is a list of Clusters.
//
// +kubebuilder:object:root=true
type ClusterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Cluster `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Cluster{}, &ClusterList{})
}
