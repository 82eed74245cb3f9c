package etcdcare

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"

	"go.etcd.io/etcd/api/v3/mvccpb"
)

// Batch is a run of consecutive watch events, as one flush of a Tailer hands it
// over: every event of every revision from First to Last, in order.
type Batch struct {
	First, Last int64 // the revisions of the first and the last event
	Events      []*mvccpb.Event
}

// The encoding of a batch:
//
//	"CPEB" | version (1 byte) | uvarint First | uvarint Last | uvarint count |
//	count × (uvarint length | mvccpb.Event protobuf) | CRC-32C (big endian) of all before
//
// Protobuf keeps each event exactly as etcd sent it (key, value, lease, versions);
// the checksum catches truncation and bit rot before a replay applies anything.
const (
	batchMagic   = "CPEB"
	batchVersion = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// MarshalBinary encodes the batch.
func (b Batch) MarshalBinary() ([]byte, error) {
	if b.First < 0 || b.Last < 0 {
		return nil, fmt.Errorf("encoding batch: negative revisions %d..%d", b.First, b.Last)
	}
	out := append([]byte(batchMagic), batchVersion)
	out = binary.AppendUvarint(out, uint64(b.First))
	out = binary.AppendUvarint(out, uint64(b.Last))
	out = binary.AppendUvarint(out, uint64(len(b.Events)))
	for _, ev := range b.Events {
		data, err := ev.Marshal()
		if err != nil {
			return nil, fmt.Errorf("encoding event at revision %d: %w", eventRev(ev), err)
		}
		out = binary.AppendUvarint(out, uint64(len(data)))
		out = append(out, data...)
	}
	return binary.BigEndian.AppendUint32(out, crc32.Checksum(out, castagnoli)), nil
}

// UnmarshalBinary decodes and validates a batch; damage returns ErrCorrupt.
func (b *Batch) UnmarshalBinary(data []byte) error {
	if err := b.decode(data); err != nil {
		return fmt.Errorf("decoding batch: %w: %w", ErrCorrupt, err)
	}
	return b.validate()
}

func (b *Batch) decode(data []byte) error {
	head := len(batchMagic) + 1
	if len(data) < head+crc32.Size || string(data[:len(batchMagic)]) != batchMagic {
		return errors.New("not a batch")
	}
	if data[len(batchMagic)] != batchVersion {
		return fmt.Errorf("unknown version %d", data[len(batchMagic)])
	}
	body, sum := data[:len(data)-crc32.Size], binary.BigEndian.Uint32(data[len(data)-crc32.Size:])
	if crc32.Checksum(body, castagnoli) != sum {
		return errors.New("checksum mismatch")
	}
	r := reader{buf: body[head:]}
	first, last, count := r.uvarint(), r.uvarint(), r.uvarint()
	if r.err == nil && count > uint64(len(r.buf)) { // every event takes at least a byte
		return fmt.Errorf("%d events cannot fit in %d bytes", count, len(r.buf))
	}
	if first > math.MaxInt64 || last > math.MaxInt64 {
		return fmt.Errorf("revisions %d..%d out of range", first, last)
	}
	*b = Batch{First: int64(first), Last: int64(last), Events: make([]*mvccpb.Event, 0, count)}
	for range count {
		ev := &mvccpb.Event{}
		if err := ev.Unmarshal(r.bytes()); r.err == nil && err != nil {
			r.err = err
		}
		b.Events = append(b.Events, ev)
	}
	if r.err == nil && len(r.buf) != 0 {
		r.err = fmt.Errorf("%d trailing bytes", len(r.buf))
	}
	return r.err
}

// validate checks that the events are in revision order and span First..Last.
func (b *Batch) validate() error {
	if len(b.Events) == 0 {
		if b.First != 0 || b.Last != 0 {
			return fmt.Errorf("empty batch claims revisions %d..%d: %w", b.First, b.Last, ErrCorrupt)
		}
		return nil
	}
	prev := b.First
	for _, ev := range b.Events {
		if ev.Kv == nil || eventRev(ev) < prev {
			return fmt.Errorf("event out of order at revision %d: %w", prev, ErrCorrupt)
		}
		prev = eventRev(ev)
	}
	if eventRev(b.Events[0]) != b.First || prev != b.Last {
		return fmt.Errorf("events span %d..%d, batch claims %d..%d: %w", eventRev(b.Events[0]), prev, b.First, b.Last, ErrCorrupt)
	}
	return nil
}

// eventRev is the revision an event happened at; for a delete etcd reports the
// deletion's revision as the key's ModRevision.
func eventRev(ev *mvccpb.Event) int64 {
	if ev.Kv == nil {
		return 0
	}
	return ev.Kv.ModRevision
}

// reader reads uvarints and length-prefixed byte strings, remembering the first
// error so the caller checks once.
type reader struct {
	buf []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.buf)
	if n <= 0 {
		r.err = errors.New("truncated")
		return 0
	}
	r.buf = r.buf[n:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.buf)) {
		r.err = errors.New("truncated event")
	}
	if r.err != nil {
		return nil
	}
	out := r.buf[:n]
	r.buf = r.buf[n:]
	return out
}
