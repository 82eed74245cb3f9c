package eks

import (
	"encoding/json"
	"testing"
	"time"
)

func TestTimestampRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		in   time.Time
		wire string
	}{
		{time.Unix(1700000000, 0), "1700000000"},
		{time.Unix(1700000000, 123*int64(time.Millisecond)), "1700000000.123"},
		{time.Unix(1700000000, 999*int64(time.Millisecond)), "1700000000.999"},
	} {
		b, err := json.Marshal(NewTimestamp(tc.in))
		if err != nil || string(b) != tc.wire {
			t.Fatalf("marshal %v = %s, %v; want %s", tc.in, b, err, tc.wire)
		}
		var back Timestamp
		if err := json.Unmarshal(b, &back); err != nil || !back.Time().Equal(tc.in) {
			t.Fatalf("unmarshal %s = %v, %v; want %v", b, back.Time(), err, tc.in)
		}
	}
}

func TestTimestampRejectsNonNumbers(t *testing.T) {
	var ts Timestamp
	if err := json.Unmarshal([]byte(`"2024-01-01T00:00:00Z"`), &ts); err == nil {
		t.Fatal("a string timestamp was accepted")
	}
}

func TestNilTimestamp(t *testing.T) {
	if NewTimestamp(time.Time{}) != nil {
		t.Fatal("zero time should give a nil timestamp, so the field is omitted")
	}
	var ts *Timestamp
	if !ts.Time().IsZero() {
		t.Fatal("nil timestamp should read as the zero time")
	}
}
