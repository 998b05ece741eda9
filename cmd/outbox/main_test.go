package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary stand in for the outbox binary: with OUTBOX_CMD_MAIN set
// it runs the command line it was given, so tests start real relay processes without a
// separate build.
func TestMain(m *testing.M) {
	if os.Getenv("OUTBOX_CMD_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// proc is an outbox command running as its own OS process.
type proc struct {
	cmd  *exec.Cmd
	out  *bytes.Buffer
	done chan error
}

func startProc(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "OUTBOX_CMD_MAIN=1"), env...)
	p := &proc{cmd: cmd, out: &bytes.Buffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("output of %v:\n%s", args, tail(p.out.String(), 3000))
		}
	})
	return p
}

func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop(t *testing.T, timeout time.Duration) {
	t.Helper()
	p.signal(t, syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		if err != nil {
			t.Fatalf("relay exited with %v after SIGTERM:\n%s", err, tail(p.out.String(), 2000))
		}
	case <-time.After(timeout):
		t.Fatalf("relay still running %s after SIGTERM", timeout)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// runCmd runs an outbox command in-process and returns its exit code and output. A
// command that should have returned but did not (a relay started by mistake) is
// cancelled after a minute, and the test fails.
func runCmd(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	code := run(ctx, args, &out, &out)
	if ctx.Err() != nil {
		t.Errorf("outbox %v ran for a minute; cancelled", args)
	}
	return code, out.String()
}
