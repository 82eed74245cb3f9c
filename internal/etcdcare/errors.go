package etcdcare

import (
	"fmt"

	"github.com/cellplane/cellplane/internal/errdefs"
)

// Sentinels of this package. Each wraps the errdefs class it belongs to, so callers
// can match the precise cause (errors.Is(err, ErrLiveDataOverQuota)) or the class
// the regional API maps to a wire error (errors.Is(err, errdefs.ErrLimitExceeded)).
var (
	// ErrUnhealthy: a member is down, slow or disagrees on the leader, or the
	// cluster has no quorum; disruptive operations refuse to start.
	ErrUnhealthy = fmt.Errorf("etcd cluster unhealthy: %w", errdefs.ErrUnavailable)
	// ErrLiveDataOverQuota: even after compaction and defragmentation the live data
	// fills most of the quota; someone has to delete data (see OverQuotaError).
	ErrLiveDataOverQuota = fmt.Errorf("etcd live data over quota: %w", errdefs.ErrLimitExceeded)
	// ErrSnapshotRequired: the revisions an incremental backup needs are compacted
	// away; only a new full snapshot can restart the chain.
	ErrSnapshotRequired = fmt.Errorf("history compacted, new full snapshot required: %w", errdefs.ErrInvalidRequest)
	// ErrGap: incremental batches do not cover every revision after the snapshot.
	ErrGap = fmt.Errorf("incremental batches leave a gap: %w", errdefs.ErrInvalidRequest)
	// ErrWouldLoseQuorum: a membership change would leave fewer healthy voters than
	// a quorum.
	ErrWouldLoseQuorum = fmt.Errorf("change would lose etcd quorum: %w", errdefs.ErrInvalidRequest)
	// ErrMemberRunning: a restore target data directory is in use by a running etcd.
	ErrMemberRunning = fmt.Errorf("etcd member is running on the data directory: %w", errdefs.ErrInvalidRequest)
	// ErrCorrupt: a snapshot or batch failed its integrity check.
	ErrCorrupt = fmt.Errorf("corrupt etcd backup data: %w", errdefs.ErrInvalidParameter)
)
