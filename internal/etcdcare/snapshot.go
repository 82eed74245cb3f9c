package etcdcare

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"slices"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Snapshot streams a full snapshot of the cluster's backend to w and returns a
// revision R such that the snapshot holds every write up to and including R.
//
// The revision comes from the member that takes the snapshot, read just before the
// stream starts, over the same pinned connection. etcd 3.6 sets no header on
// snapshot responses (server/etcdserver/api/v3rpc/maintenance.go, Snapshot), and the
// revision inside the bolt file can only be read once the stream is complete and
// parsed with bbolt; a consistent read through the balanced client could be served
// by another, more advanced member. A member's applied revision only grows, so R is
// a lower bound: the snapshot may also hold a few writes after R. That is safe for
// the incremental chain that starts at R+1, because replaying a write already in
// the snapshot sets a key to the value it has (see Replay).
//
// The snapshot comes from a healthy follower when there is one, to spare the
// leader the read of the whole backend. The stream's trailing SHA-256 is verified
// (etcdutl verifies it again on restore); a mismatch returns ErrCorrupt.
func Snapshot(ctx context.Context, cli *clientv3.Client, w io.Writer) (int64, error) {
	ep, err := snapshotSource(ctx, cli)
	if err != nil {
		return 0, err
	}
	m, err := dialMember(cli, ep)
	if err != nil {
		return 0, err
	}
	defer m.Close()
	st, err := m.mnt.Status(ctx, ep)
	if err != nil {
		return 0, fmt.Errorf("reading revision of snapshot source %s: %w", ep, err)
	}
	resp, err := m.mnt.SnapshotWithVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("starting snapshot from %s: %w", ep, err)
	}
	defer func() { _ = resp.Snapshot.Close() }() // read only: Copy and the digest report what went wrong
	dw := &digestWriter{w: w, h: sha256.New()}
	if _, err := io.Copy(dw, resp.Snapshot); err != nil {
		return 0, fmt.Errorf("streaming snapshot from %s: %w", ep, err)
	}
	if err := dw.verify(); err != nil {
		return 0, err
	}
	return st.Header.Revision, nil
}

// snapshotSource picks a healthy follower, the most caught-up first, else the
// leader.
func snapshotSource(ctx context.Context, cli *clientv3.Client) (string, error) {
	c, _ := Status(ctx, cli, nil)
	var cands []Member
	for _, m := range c.Members {
		if m.Healthy() && !m.Learner && m.Endpoint != "" {
			cands = append(cands, m)
		}
	}
	if len(cands) == 0 {
		return "", fmt.Errorf("no healthy member to take a snapshot from: %w", ErrUnhealthy)
	}
	slices.SortFunc(cands, func(a, b Member) int {
		return cmp.Or(cmpBool(a.Leader, b.Leader), cmp.Compare(b.RaftAppliedIndex, a.RaftAppliedIndex))
	})
	return cands[0].Endpoint, nil
}

// digestWriter passes everything through to w and hashes all but the last
// sha256.Size bytes, which the server appends as the digest of the rest.
type digestWriter struct {
	w    io.Writer
	h    hash.Hash
	tail []byte
}

func (d *digestWriter) Write(p []byte) (int, error) {
	n, err := d.w.Write(p)
	if err != nil {
		return n, err
	}
	d.tail = append(d.tail, p...)
	if cut := len(d.tail) - sha256.Size; cut > 0 {
		d.h.Write(d.tail[:cut])
		d.tail = append(d.tail[:0], d.tail[cut:]...)
	}
	return n, nil
}

func (d *digestWriter) verify() error {
	if len(d.tail) != sha256.Size || !bytes.Equal(d.h.Sum(nil), d.tail) {
		return fmt.Errorf("snapshot digest mismatch: %w", ErrCorrupt)
	}
	return nil
}
