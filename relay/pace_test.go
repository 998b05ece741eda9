package relay

import "testing"

// The workers go solo once what they all found fits half a batch, and fan out again at
// the solo worker's first full batch; one worker's small batch after that is not enough.
func TestPaceSoloAndFanOut(t *testing.T) {
	p := newPace(4, 500)
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
	steps := []struct {
		w, n int
		solo bool
		want [4]string // each worker's share afterwards
	}{
		{0, 10, false, [4]string{"share", "share", "share", "share"}}, // the others have not reported
		{1, 10, false, [4]string{"share", "share", "share", "share"}},
		{2, 240, false, [4]string{"share", "share", "share", "share"}},
		{3, 10, false, [4]string{"share", "share", "share", "share"}}, // 270, over 250
		{2, 20, false, [4]string{"all", "rest", "rest", "rest"}},      // 50: solo
		{0, 499, true, [4]string{"all", "rest", "rest", "rest"}},      // not full: still solo
		{0, 500, true, [4]string{"share", "share", "share", "share"}}, // full: everyone
		{1, 0, false, [4]string{"share", "share", "share", "share"}},  // the others count as full
	}
	for i, s := range steps {
		p.claimed(s.w, s.n, s.solo)
		for w, want := range s.want {
			if got := share(w); got != want {
				t.Fatalf("step %d (worker %d found %d): worker %d %s, want %s", i, s.w, s.n, w, got, want)
			}
		}
	}
}

// A rested worker is released by the fan-out, and a nil pace (one worker, ExactlyOnce,
// WAL mode) always claims its own share.
func TestPaceReleasesRestingWorkers(t *testing.T) {
	p := newPace(2, 100)
	p.claimed(0, 1, false)
	p.claimed(1, 1, false)
	_, _, rest := p.share(1)
	if rest == nil {
		t.Fatal("worker 1 should rest while worker 0 claims alone")
	}
	p.claimed(0, 100, true)
	select {
	case <-rest:
	default:
		t.Fatal("a full solo batch should release the resting workers")
	}
	var none *pace
	if claims, all, _ := none.share(3); !claims || all {
		t.Fatal("without a pace every worker claims its share")
	}
	none.claimed(0, 1, false) // no panic
}
