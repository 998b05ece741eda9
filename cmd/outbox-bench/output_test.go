package main

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// A child writes while the harness reads what it wrote so far (as the latency scenario
// counts relay warnings): under -race, this is clean only with the lock.
func TestOutputReadWhileChildWrites(t *testing.T) {
	cmd := exec.Command("sh", "-c", "while :; do echo level=WARN busy; done")
	out := &output{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	seen := 0
	for deadline := time.Now().Add(200 * time.Millisecond); time.Now().Before(deadline); {
		seen = strings.Count(out.String(), "level=WARN")
	}
	if seen == 0 {
		t.Fatal("read nothing of the child's output")
	}
}
