package framework

import (
	"os"
	"os/exec"
	"testing"
)

func TestRSS(t *testing.T) {
	if n, err := RSS(os.Getpid()); err != nil || n <= 0 {
		t.Errorf("RSS(self) = %d, %v; want a positive size", n, err)
	}
	exited := exec.Command("/bin/true")
	if err := exited.Run(); err != nil {
		t.Fatal(err)
	}
	if _, err := RSS(exited.Process.Pid); err == nil {
		t.Error("RSS of a dead pid: want an error")
	}
}
