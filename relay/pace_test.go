package relay

import (
	"testing"
	"time"
)

// The workers go solo once what they all found fits half a batch, quickly, and fan out
// again at the solo worker's first full or slow batch; one worker's small batch after
// that is not enough, nor are small batches that were slow.
func TestPaceSoloAndFanOut(t *testing.T) {
	p := newPace(4, 500, 5*time.Millisecond)
	share := func(w int) string {
		claims, all, rest := p.share(w)
		switch {
		case claims && all:
			return "all"
		case claims:
			return "share"
		}
		select {
		case <-rest:
			return "rest (already over)"
		default:
			return "rest"
		}
	}
	const quick, slow = time.Millisecond, 10 * time.Millisecond
	steps := []struct {
		w, n int
		took time.Duration
		solo bool
		want [4]string // each worker's share afterwards
	}{
		{0, 10, quick, false, [4]string{"share", "share", "share", "share"}}, // the others have not reported
		{1, 10, quick, false, [4]string{"share", "share", "share", "share"}},
		{2, 240, quick, false, [4]string{"share", "share", "share", "share"}},
		{3, 10, quick, false, [4]string{"share", "share", "share", "share"}}, // 270, over 250
		{2, 20, quick, false, [4]string{"all", "rest", "rest", "rest"}},      // 50: solo
		{0, 499, quick, true, [4]string{"all", "rest", "rest", "rest"}},      // not full: still solo
		{0, 500, quick, true, [4]string{"share", "share", "share", "share"}}, // full: everyone
		{1, 0, quick, false, [4]string{"share", "share", "share", "share"}},  // the others count as full
		{0, 0, quick, false, [4]string{"share", "share", "share", "share"}},
		{2, 0, slow, false, [4]string{"share", "share", "share", "share"}}, // slow: counts as full
		{3, 0, quick, false, [4]string{"share", "share", "share", "share"}},
		{2, 0, quick, false, [4]string{"all", "rest", "rest", "rest"}},    // small and quick: solo
		{0, 3, slow, true, [4]string{"share", "share", "share", "share"}}, // a slow solo batch: everyone
	}
	for i, s := range steps {
		p.claimed(s.w, s.n, s.took, s.solo)
		for w, want := range s.want {
			if got := share(w); got != want {
				t.Fatalf("step %d (worker %d found %d): worker %d %s, want %s", i, s.w, s.n, w, got, want)
			}
		}
	}
}

// A rested worker is released by the fan-out, and a nil pace (one worker, ExactlyOnce,
// WAL mode, no BatchWait) always claims its own share.
func TestPaceReleasesRestingWorkers(t *testing.T) {
	p := newPace(2, 100, time.Second)
	p.claimed(0, 1, 0, false)
	p.claimed(1, 1, 0, false)
	_, _, rest := p.share(1)
	if rest == nil {
		t.Fatal("worker 1 should rest while worker 0 claims alone")
	}
	p.claimed(0, 100, 0, true)
	select {
	case <-rest:
	default:
		t.Fatal("a full solo batch should release the resting workers")
	}
	var none *pace
	if claims, all, _ := none.share(3); !claims || all {
		t.Fatal("without a pace every worker claims its share")
	}
	none.claimed(0, 1, 0, false) // no panic
}
