package testenv

import (
	"context"
	"sync"
	"testing"
	"time"
)

// Runner is what runs until its context ends: a relay, an inbox consumer.
type Runner interface {
	Run(ctx context.Context) error
}

// Start runs r until the test ends, or until the returned stop is called, which waits
// for Run to return (at most 30 s) and fails the test on its error.
func Start(t testing.TB, r Runner) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("Run did not return 30 s after its context ended")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}
