package main

import (
	"bytes"
	"sync"
)

// output collects a child process's output. os/exec copies it in from a goroutine of its
// own while the process runs, so reads must take the same lock as those writes.
type output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}
