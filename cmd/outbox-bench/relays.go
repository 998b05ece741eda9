package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// relay is one `outbox relay` process on the bench's outbox and brokers, with args added.
func (e *env) relay(brokers []string, args ...string) *exec.Cmd {
	args = append(append(append([]string{"relay", "--kafka-brokers", strings.Join(brokers, ",")}, e.relayArgs()...), args...), e.extraRelayArgs...)
	cmd := exec.Command(e.cfg.OutboxBin, append(args, e.cfg.RelayArgs...)...)
	if e.relayEnv != nil {
		cmd.Env = append(os.Environ(), e.relayEnv...)
	}
	return cmd
}

// startRelay starts one relay process with args added; stop ends it with SIGTERM, as in
// production (the relay finishes its batches and flushes a --cpuprofile).
func (e *env) startRelay(args ...string) (proc *exec.Cmd, out *output, stop func(), err error) {
	proc, out = e.relay(e.cfg.Brokers, args...), &output{}
	proc.Stdout, proc.Stderr = out, out
	if err := proc.Start(); err != nil {
		return nil, nil, nil, err
	}
	return proc, out, func() {
		_ = proc.Process.Signal(syscall.SIGTERM)
		stopped := make(chan struct{})
		go func() { _ = proc.Wait(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(30 * time.Second):
			_ = proc.Process.Kill()
			<-stopped
		}
	}, nil
}

// relayRun is what a set of relay processes cost while draining.
type relayRun struct {
	elapsed   time.Duration // from start until the outbox was drained
	peakRSSMB float64       // the largest of the processes
	cpu       time.Duration // user + system, all processes
}

// runRelays starts n `outbox relay` processes on the bench outbox, waits until nothing
// is pending, stops them with SIGTERM and returns the time and their resource usage.
func (e *env) runRelays(ctx context.Context, n int, timeout time.Duration, brokers []string, args ...string) (relayRun, error) {
	var run relayRun
	procs := make([]*exec.Cmd, n)
	outs := make([]*output, n)
	start := time.Now()
	for i := range procs {
		procs[i] = e.relay(brokers, append([]string{"--log-level", "warn"}, args...)...)
		outs[i] = &output{}
		procs[i].Stdout, procs[i].Stderr = outs[i], outs[i]
		if err := procs[i].Start(); err != nil {
			return run, fmt.Errorf("start relay: %w", err)
		}
	}
	defer func() { // on any early return
		for _, p := range procs {
			if p.ProcessState == nil {
				_ = p.Process.Kill()
				_ = p.Wait()
			}
		}
	}()
	deadline := time.Now().Add(timeout)
	for {
		done, err := e.drained(ctx)
		if err != nil {
			return run, err
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			return run, fmt.Errorf("%d relay(s) did not drain the backlog within %s; relay output:\n%s", n, timeout, outs[0])
		}
		time.Sleep(20 * time.Millisecond)
	}
	run.elapsed = time.Since(start)
	for i, p := range procs {
		if mb, err := peakRSS(p.Process.Pid); err == nil {
			run.peakRSSMB = max(run.peakRSSMB, mb)
		}
		_ = p.Process.Signal(syscall.SIGTERM)
		if err := p.Wait(); err != nil {
			return run, fmt.Errorf("relay %d exited with %v:\n%s", i, err, outs[i])
		}
		if ru, ok := p.ProcessState.SysUsage().(*syscall.Rusage); ok {
			run.cpu += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	return run, nil
}

// peakRSS is a running process's peak resident memory in MiB, from /proc (VmHWM). The
// rusage of its exit would not do: Linux counts in it the spawning process's memory
// from before the exec, here the bench's own hundreds of MiB.
func peakRSS(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				return 0, fmt.Errorf("VmHWM %q: %w", v, err)
			}
			return float64(kb) / 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}
