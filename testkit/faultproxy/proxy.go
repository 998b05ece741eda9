// Package faultproxy is a TCP proxy for fault-injection tests: it forwards connections
// to a target and, on command, delays them, blackholes them or resets them, so a test
// can put a real network fault between a relay and PostgreSQL or Kafka.
//
// A blackhole stops forwarding in both directions without closing anything, the way a
// dead route looks to both ends: bytes sent meanwhile are held and delivered when the
// blackhole lifts (TCP would retransmit them), unless a peer gave up and closed first.
//
// It is part of this module's test kit (testkit/), which its own tests, benchmark and
// fault-injection suite share: not an API, and it changes with them.
package faultproxy

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Proxy forwards every connection accepted on its address to its target.
type Proxy struct {
	target string // fixed at Listen: serve reads it without a lock

	ln net.Listener

	mu        sync.Mutex
	delay     time.Duration
	blackhole chan struct{} // non-nil while blackholed; closed when lifted
	conns     map[*link]struct{}
	closed    bool
	wg        sync.WaitGroup
}

// Listen starts a proxy on addr ("127.0.0.1:0" for any free port) forwarding to target.
func Listen(addr, target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen on %s: %w", addr, err)
	}
	p := &Proxy{target: target, ln: ln, conns: map[*link]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the address clients connect to.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Delay makes every chunk of bytes, in either direction, arrive d later than it was
// sent (0 = no delay). Throughput is kept: chunks in flight overlap, like a long link.
func (p *Proxy) Delay(d time.Duration) {
	p.mu.Lock()
	p.delay = d
	p.mu.Unlock()
}

// Blackhole stops all forwarding, on open and new connections, until Heal.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	if p.blackhole == nil {
		p.blackhole = make(chan struct{})
	}
	p.mu.Unlock()
}

// Heal lifts a blackhole and any delay.
func (p *Proxy) Heal() {
	p.mu.Lock()
	if p.blackhole != nil {
		close(p.blackhole)
		p.blackhole = nil
	}
	p.delay = 0
	p.mu.Unlock()
}

// Reset aborts every open connection with a TCP reset, to both peers; new connections
// are forwarded as usual. It returns how many connections it reset.
func (p *Proxy) Reset() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for l := range p.conns {
		l.abort()
	}
	return len(p.conns)
}

// Close stops accepting, resets every open connection and waits for the proxy's
// goroutines to end.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	err := p.ln.Close()
	p.Heal()
	p.Reset()
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // e.g. out of file descriptors: try again
			continue
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// serve dials the target for client c and forwards both ways until either side ends.
func (p *Proxy) serve(c net.Conn) {
	defer p.wg.Done()
	// While blackholed, even the connection to the target waits, as a SYN would.
	if !p.pass(time.Time{}, nil) {
		c.Close()
		return
	}
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		abort(c) // the target refused: the client sees a reset, as without the proxy
		return
	}
	l := &link{client: c, target: up, done: make(chan struct{})}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		l.abort()
		return
	}
	p.conns[l] = struct{}{}
	p.mu.Unlock()
	var pipes sync.WaitGroup
	pipes.Add(2)
	go func() { defer pipes.Done(); p.pipe(l, up, c) }()
	go func() { defer pipes.Done(); p.pipe(l, c, up) }()
	pipes.Wait()
	p.mu.Lock()
	delete(p.conns, l)
	p.mu.Unlock()
}

// pass waits until bytes due at at may go on: past at and not blackholed. It reports
// false when done closes first.
func (p *Proxy) pass(at time.Time, done <-chan struct{}) bool {
	for {
		p.mu.Lock()
		hole := p.blackhole
		p.mu.Unlock()
		if hole != nil {
			select {
			case <-hole:
				continue
			case <-done:
				return false
			}
		}
		wait := time.Until(at)
		if wait <= 0 {
			return true
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C: // then look at the blackhole again
		case <-done:
			t.Stop()
			return false
		}
	}
}

type chunk struct {
	at   time.Time
	data []byte
}

// pipe copies src to dst, each chunk held until pass lets it go, and ends the link when
// either side ends. Reading runs ahead of writing so that a delay adds latency, not a
// stall per chunk.
func (p *Proxy) pipe(l *link, dst, src net.Conn) {
	chunks := make(chan chunk, 64)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				p.mu.Lock()
				at := time.Now().Add(p.delay)
				p.mu.Unlock()
				select {
				case chunks <- chunk{at, buf[:n]}:
				case <-l.done:
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range chunks {
		if !p.pass(c.at, l.done) {
			break
		}
		if _, err := dst.Write(c.data); err != nil {
			break
		}
	}
	l.close()
	for range chunks { // wait for the reader, which ends now that both conns are closed
	}
}

// link is one proxied connection: the client's and the one to the target.
type link struct {
	client, target net.Conn
	once           sync.Once
	done           chan struct{}
}

func (l *link) close() {
	l.once.Do(func() {
		close(l.done)
		l.client.Close()
		l.target.Close()
	})
}

func (l *link) abort() {
	l.once.Do(func() {
		close(l.done)
		abort(l.client)
		abort(l.target)
	})
}

// abort closes c with a TCP reset instead of a FIN.
func abort(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}
