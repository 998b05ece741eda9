package faultproxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// echo starts a server that sends back every line it gets.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

func start(t *testing.T, target string) *Proxy {
	t.Helper()
	p, err := Listen("127.0.0.1:0", target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

type client struct {
	net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, p *Proxy) client {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return client{c, bufio.NewReader(c)}
}

// roundTrip sends a line and reads it back within timeout.
func (c client) roundTrip(line string, timeout time.Duration) (string, error) {
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		return "", err
	}
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	s, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	return s[:len(s)-1], nil
}

func TestForwards(t *testing.T) {
	c := dial(t, start(t, echo(t)))
	for _, line := range []string{"a", "hello", string(make([]byte, 100_000))} {
		got, err := c.roundTrip(line, 2*time.Second)
		if err != nil || got != line {
			t.Fatalf("round trip of %d bytes: got %d bytes, %v", len(line), len(got), err)
		}
	}
}

func TestDelay(t *testing.T) {
	p := start(t, echo(t))
	c := dial(t, p)
	const d = 100 * time.Millisecond
	p.Delay(d)
	began := time.Now()
	if _, err := c.roundTrip("x", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	// Both directions are delayed, so no reply can come back in under 2d.
	if took := time.Since(began); took < 2*d {
		t.Fatalf("round trip took %s with a %s delay each way", took, d)
	}
	p.Heal()
	if _, err := c.roundTrip("y", 2*time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestBlackholeHoldsThenDelivers(t *testing.T) {
	p := start(t, echo(t))
	c := dial(t, p)
	if _, err := c.roundTrip("before", time.Second); err != nil {
		t.Fatal(err)
	}
	p.Blackhole()
	if _, err := c.roundTrip("during", 300*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read through a blackhole: %v, want a timeout", err)
	}
	late := dial(t, p) // a new connection is held too
	if _, err := late.roundTrip("new", 200*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("new connection through a blackhole: %v, want a timeout", err)
	}
	p.Heal()
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if s, err := c.r.ReadString('\n'); err != nil || s != "during\n" {
		t.Fatalf("after heal: %q, %v; want the held bytes", s, err)
	}
	_ = late.SetReadDeadline(time.Now().Add(2 * time.Second))
	if s, err := late.r.ReadString('\n'); err != nil || s != "new\n" {
		t.Fatalf("new connection after heal: %q, %v", s, err)
	}
}

func TestReset(t *testing.T) {
	p := start(t, echo(t))
	c := dial(t, p)
	if _, err := c.roundTrip("x", time.Second); err != nil {
		t.Fatal(err)
	}
	if n := p.Reset(); n != 1 {
		t.Fatalf("reset %d connections, want 1", n)
	}
	_, err := c.roundTrip("y", time.Second)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("after reset: %v, want ECONNRESET", err)
	}
	if _, err := dial(t, p).roundTrip("z", time.Second); err != nil {
		t.Fatalf("new connection after reset: %v", err)
	}
}

func TestTargetDown(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	p := start(t, addr)
	if p.Addr() == addr { // the kernel handed the freed port to the proxy itself
		t.Skip("port reused")
	}
	// On loopback the reset can come back before connect returns.
	c, err := net.Dial("tcp", p.Addr())
	if err == nil {
		defer c.Close()
		_, err = client{c, bufio.NewReader(c)}.roundTrip("x", 2*time.Second)
	}
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("round trip to a closed port: %v, want the connection refused or reset", err)
	}
}

// Close ends every goroutine the proxy started, blackholed connections included.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	target := echo(t)
	before := runtime.NumGoroutine()
	p, err := Listen("127.0.0.1:0", target)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := dial(t, p).roundTrip("x", time.Second); err != nil {
			t.Fatal(err)
		}
	}
	p.Blackhole()
	c := dial(t, p)
	_, _ = c.Write([]byte("held\n"))
	p.Close()
	deadline := time.Now().Add(2 * time.Second)
	for {
		// The echo server's handlers end once the proxy's side closes; allow for them.
		n := runtime.NumGoroutine()
		if n <= before {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines after Close, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
