package eks

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Timestamp is a time that travels as epoch seconds with a millisecond fraction,
// the restJson1 default that the AWS SDKs parse (for example 1700000000.123).
type Timestamp struct{ t time.Time }

// NewTimestamp returns t as a *Timestamp, or nil for the zero time so that the
// field is omitted rather than sent as 1970.
func NewTimestamp(t time.Time) *Timestamp {
	if t.IsZero() {
		return nil
	}
	return &Timestamp{t: t}
}

// Time returns the time; the zero time for a nil Timestamp.
func (ts *Timestamp) Time() time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.t
}

// MarshalJSON writes the time as epoch seconds.
func (ts Timestamp) MarshalJSON() ([]byte, error) {
	secs := float64(ts.t.UnixMilli()) / 1000
	return strconv.AppendFloat(nil, secs, 'f', -1, 64), nil
}

// UnmarshalJSON reads epoch seconds, with or without a fraction.
func (ts *Timestamp) UnmarshalJSON(b []byte) error {
	secs, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsInf(secs, 0) || math.IsNaN(secs) {
		return fmt.Errorf("parsing timestamp %s: want epoch seconds", b)
	}
	whole, frac := math.Modf(secs)
	ts.t = time.Unix(int64(whole), int64(math.Round(frac*1000))*int64(time.Millisecond))
	return nil
}
