package process

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseStatFields(t *testing.T) {
	// The command name may hold spaces and ')' itself.
	line := "4242 (we ird) (x) S 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10"
	b := []byte(line)
	i := strings.LastIndexByte(line, ')')
	st, err := parseStatFields(4242, strings.Fields(string(b[i+1:])))
	if err != nil {
		t.Fatal(err)
	}
	want := procStat{state: 'S', pgid: 4242, session: 4242, startTime: 987654}
	if st != want {
		t.Errorf("parsed %+v, want %+v", st, want)
	}
}

func TestAlive(t *testing.T) {
	self := statOf(t, os.Getpid())
	for _, tc := range []struct {
		name  string
		pid   int
		start uint64
		want  bool
	}{
		{"ourselves", os.Getpid(), self.startTime, true},
		{"reused pid", os.Getpid(), self.startTime + 1, false},
		{"no pid", 0, 0, false},
		{"dead pid", deadPID(t), 0, false},
	} {
		if got := Alive(tc.pid, tc.start); got != tc.want {
			t.Errorf("%s: Alive(%d, %d) = %v, want %v", tc.name, tc.pid, tc.start, got, tc.want)
		}
	}
}

func TestStartTime(t *testing.T) {
	got, err := StartTime(os.Getpid())
	if err != nil || got != statOf(t, os.Getpid()).startTime || !Alive(os.Getpid(), got) {
		t.Errorf("StartTime(self) = %d, %v; want our start time", got, err)
	}
	if _, err := StartTime(deadPID(t)); err == nil {
		t.Error("StartTime(dead pid) succeeded")
	}
}

func TestBackoff(t *testing.T) {
	ms := time.Millisecond
	b := backoff{min: 100 * ms, max: 500 * ms, stableAfter: time.Minute}
	for i, tc := range []struct {
		uptime time.Duration
		want   time.Duration
	}{
		{0, 100 * ms},
		{time.Second, 200 * ms},
		{time.Second, 400 * ms},
		{time.Second, 500 * ms}, // capped
		{time.Second, 500 * ms},
		{time.Minute, 100 * ms}, // stayed up long enough: start over
		{0, 200 * ms},
	} {
		if got := b.next(tc.uptime); got != tc.want {
			t.Errorf("step %d: next(%v) = %v, want %v", i, tc.uptime, got, tc.want)
		}
	}
}

func TestSpecHash(t *testing.T) {
	base := Spec{Path: "/bin/etcd", Args: []string{"--name", "a"}, Dir: "/d"}
	for _, tc := range []struct {
		name string
		edit func(*Spec)
		same bool
	}{
		{"state location does not matter", func(s *Spec) { s.ID, s.StateDir, s.Name = "x", "/s", "n" }, true},
		{"args", func(s *Spec) { s.Args = []string{"--name", "b"} }, false},
		{"args split differently", func(s *Spec) { s.Args = []string{"--name a"} }, false},
		{"path", func(s *Spec) { s.Path = "/bin/etcd2" }, false},
		{"dir", func(s *Spec) { s.Dir = "/e" }, false},
		{"empty env is not inherited env", func(s *Spec) { s.Env = []string{} }, false},
	} {
		s := base
		tc.edit(&s)
		if got := s.hash() == base.hash(); got != tc.same {
			t.Errorf("%s: same hash = %v, want %v", tc.name, got, tc.same)
		}
	}
}

func TestSpecValidate(t *testing.T) {
	ok := Spec{ID: "c/etcd", Path: "/bin/etcd", StateDir: "/s", Name: "etcd"}
	for _, tc := range []struct {
		name string
		edit func(*Spec)
	}{
		{"no id", func(s *Spec) { s.ID = "" }},
		{"relative path", func(s *Spec) { s.Path = "etcd" }},
		{"no state dir", func(s *Spec) { s.StateDir = "" }},
		{"name with slash", func(s *Spec) { s.Name = "../etcd" }},
	} {
		s := ok
		tc.edit(&s)
		if err := s.validateStart(); err == nil {
			t.Errorf("%s: want ErrInvalidSpec", tc.name)
		}
	}
	if err := ok.validateStart(); err != nil {
		t.Errorf("valid spec: %v", err)
	}
}

func TestEnvironDefaultsToPathAndHome(t *testing.T) {
	t.Setenv("PATH", "/usr/bin")
	t.Setenv("HOME", "/home/x")
	t.Setenv("SECRET", "s")
	if got, want := (Spec{}).environ(), []string{"PATH=/usr/bin", "HOME=/home/x"}; !slices.Equal(got, want) {
		t.Errorf("environ() = %v, want %v", got, want)
	}
}

func TestLastLines(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"a\n", []string{"a"}},
		{"a\nb\nc\nd\ne\nf\ng\n", []string{"c", "d", "e", "f", "g"}},
		{"partial\nlast line without newline", []string{"partial", "last line without newline"}},
	} {
		if got := lastLines([]byte(tc.in), 5); !slices.Equal(got, tc.want) {
			t.Errorf("lastLines(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
