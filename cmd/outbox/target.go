package main

import (
	"fmt"
	"time"

	"github.com/firstunicorn/outbox/cmd/internal/envflag"
)

// deadTarget is which dead events a retry or purge acts on, the same for the outbox's
// commands and the inbox's: exactly one of --id ID or --all, or for purge
// --dead-older-than D instead.
type deadTarget struct {
	id        *string
	all       *bool
	olderThan *time.Duration // purge only; nil for retry
}

func addDeadTarget(f *envflag.Set, verb string, purge bool) deadTarget {
	t := deadTarget{
		id:  f.String("id", "", "id of the dead event to "+verb+", as 'dead' lists it"),
		all: f.Bool("all", false, verb+" every dead event"),
	}
	if purge {
		t.olderThan = f.Duration("dead-older-than", 0, verb+" the events that died longer ago than this, e.g. 168h")
	}
	return t
}

// check refuses anything but exactly one target.
func (t deadTarget) check() error {
	n := 0
	for _, set := range []bool{*t.id != "", *t.all, t.olderThan != nil && *t.olderThan != 0} {
		if set {
			n++
		}
	}
	switch {
	case t.olderThan != nil && *t.olderThan < 0:
		return fmt.Errorf("--dead-older-than must be positive, e.g. 168h")
	case n == 1:
		return nil
	case t.olderThan != nil:
		return fmt.Errorf("give exactly one of --id ID, --all or --dead-older-than D")
	}
	return fmt.Errorf("give exactly one of --id ID or --all")
}

// apply runs one on --id and many on --all or --dead-older-than (--all being older
// than 0), and refuses an --id that matched no dead event.
func (t deadTarget) apply(one func(id string) (int64, error), many func() (int64, error)) (int64, error) {
	if *t.id == "" {
		return many()
	}
	n, err := one(*t.id)
	if err == nil && n == 0 {
		err = fmt.Errorf("no dead event with id %s", *t.id)
	}
	return n, err
}
