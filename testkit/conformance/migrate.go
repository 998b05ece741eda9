package conformance

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/firstunicorn/outbox/outboxstore"
)

func migrateTests[TTx any]() []test[Harness[TTx]] {
	return []test[Harness[TTx]]{
		{"MigrateTwice", testMigrateTwice[TTx]},
		{"MigrateConcurrently", testMigrateConcurrently[TTx]},
	}
}

// Check refuses an outbox that is not migrated; Migrate applies every version once,
// and again nothing.
func testMigrateTwice[TTx any](t *testing.T, h Harness[TTx]) {
	s := h.New(t, &outboxstore.Config{})
	ctx := context.Background()
	if err := s.Admin().Check(ctx); !errors.Is(err, outboxstore.ErrNotMigrated) {
		t.Fatalf("Check before Migrate: %v, want ErrNotMigrated", err)
	}
	first, err := s.Admin().Migrate(ctx)
	must(t, err)
	if len(first) == 0 {
		t.Fatal("the first Migrate applied nothing")
	}
	again, err := s.Admin().Migrate(ctx)
	must(t, err)
	if len(again) != 0 {
		t.Fatalf("a second Migrate applied %v", again)
	}
	must(t, s.Admin().Check(ctx))
}

// Migrators that start together wait for each other: all succeed, and each version is
// applied by exactly one.
func testMigrateConcurrently[TTx any](t *testing.T, h Harness[TTx]) {
	s := h.New(t, &outboxstore.Config{})
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		applied = map[int]int{}
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vs, err := s.Admin().Migrate(context.Background())
			if err != nil {
				t.Errorf("concurrent Migrate: %v", err)
			}
			mu.Lock()
			for _, v := range vs {
				applied[v]++
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(applied) == 0 {
		t.Fatal("no migrator applied anything")
	}
	for v, n := range applied {
		if n != 1 {
			t.Errorf("version %d applied %d times", v, n)
		}
	}
	must(t, s.Admin().Check(context.Background()))
}
