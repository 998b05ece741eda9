//go:build chaos

package chaos

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/firstunicorn/outbox/testkit/testenv"
)

// proc is a child process whose output goes to a log file in the cluster's directory.
type proc struct {
	name    string
	cmd     *exec.Cmd
	done    chan struct{}
	err     error
	metrics string // a relay's --metrics-addr
}

func (c *cluster) start(name string, cmd *exec.Cmd) *proc {
	f, err := os.Create(filepath.Join(c.dir, name+".log"))
	if err != nil {
		c.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	// A run that fails midway (a fault's check) never reaches its writers' finish: left
	// running, they would write and hold connections for ever. Seen: five writers of a
	// failed run outlived it by an hour and a half, holding their connections while a
	// CI simulation ran out of PostgreSQL's.
	c.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.signal(syscall.SIGKILL)
			<-p.done
		}
	})
	return p
}

func (p *proc) signal(sig syscall.Signal) { _ = p.cmd.Process.Signal(sig) }

// wait waits for the process to exit and returns how it exited.
func (p *proc) wait(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		return fmt.Errorf("%s still running after %s", p.name, timeout)
	}
}

// stop asks the process to end with SIGTERM, and kills it if it has not within timeout.
func (p *proc) stop(timeout time.Duration) error {
	p.signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		p.signal(syscall.SIGKILL)
		<-p.done
		return fmt.Errorf("%s ignored SIGTERM for %s and was killed", p.name, timeout)
	}
}

// killRelay SIGKILLs relay slot i and, once it has exited and between has run, starts
// a replacement in the slot.
func (c *cluster) killRelay(i int, between func()) {
	c.mu.Lock()
	old := c.relays[i]
	c.mu.Unlock()
	old.signal(syscall.SIGKILL)
	<-old.done
	if between != nil {
		between()
	}
	r := c.startRelay(i)
	c.mu.Lock()
	c.relays[i] = r
	c.mu.Unlock()
	c.mark("killed", 1)
}

// writers runs one writer process per config and returns their ledger files once
// all have exited; each config gets the cluster's database, schema and topic.
type writers struct {
	c       *cluster
	cfgs    []writerConfig
	procs   []*proc
	ledgers []string
}

func (c *cluster) write(cfgs []writerConfig) *writers {
	w := &writers{c: c, cfgs: cfgs}
	for i, cfg := range cfgs {
		cfg.DatabaseURL, cfg.Schema, cfg.Topic, cfg.Committed = c.dsn("chaos-writer", nil), c.schema, c.topic, c.committedTable
		if w, ok := c.db.(*walDB); ok {
			cfg.Slot = w.slot
		}
		if cfg.Name == "" {
			cfg.Name = fmt.Sprintf("w%d", i)
		}
		cfg.Ledger = filepath.Join(c.dir, cfg.Name+".ledger.json")
		w.procs = append(w.procs, c.start("writer-"+cfg.Name, self("writer", cfg)))
		w.ledgers = append(w.ledgers, cfg.Ledger)
	}
	return w
}

// finish waits for the writers with a count of events to write, then stops the others
// with SIGTERM, and waits for them; a writer may be retrying through a fault.
func (w *writers) finish() []string {
	for _, timed := range []bool{false, true} {
		for i, p := range w.procs {
			if w.cfgs[i].Events == 0 != timed {
				continue
			}
			if timed {
				p.signal(syscall.SIGTERM)
			}
			if err := p.wait(5 * time.Minute); err != nil {
				w.c.t.Fatalf("writer %s: %v", p.name, err)
			}
		}
	}
	return w.ledgers
}

// services runs scripts/services.sh with args.
func services(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("../../../scripts/services.sh", args...).CombinedOutput()
	if err != nil {
		testenv.Need(t, "the services", fmt.Errorf("services.sh %s: %v\n%s", strings.Join(args, " "), err, out))
	}
}

const state = "/var/tmp/go-outbox"

// stopKafka ends the broker with sig and waits until it has exited.
func stopKafka(t *testing.T, sig syscall.Signal) { stopService(t, "Kafka", "kafka/pid", sig) }

// stopService sends sig to the service whose pid file (under the services' state
// directory) is pidFile, and waits until it has exited.
func stopService(t *testing.T, what, pidFile string, sig syscall.Signal) {
	b, err := os.ReadFile(env("OUTBOX_SERVICES_DIR", state) + "/" + pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(90 * time.Second); syscall.Kill(pid, 0) == nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) did not exit on %v", what, pid, sig)
		}
	}
}
