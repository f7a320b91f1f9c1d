package memreturn

import (
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"hubbub/internal/chattest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testConfig returns settings scaled down for a test: a burst of 16 MiB, a quiet spell of
// 200 ms under 512 KiB/s (the test binary alone allocates far less).
func testConfig() Config {
	return Config{Quiet: 200 * time.Millisecond, QuietRate: 512 << 10, Burst: 16 << 20, Tick: 20 * time.Millisecond}
}

// waitFor waits up to a generous deadline for cond.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	chattest.WaitWithin(t, 20*time.Second, what, cond)
}

var sink [][]byte

// burst allocates n bytes in blocks of 64 KiB, keeps them until it returns, then drops them.
func burst(n int) {
	for range n / (64 << 10) {
		sink = append(sink, make([]byte, 64<<10))
	}
	sink = nil
}

func heapReleased() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestReturnsAfterABurst: a burst of allocation followed by a quiet spell has the memory
// returned once, and the pages the burst freed are given back to the kernel.
func TestReturnsAfterABurst(t *testing.T) {
	r := Start(testConfig(), nil)
	defer r.Stop()
	waitFor(t, "a few looks", func() bool { return r.Looks() >= 20 })
	if n := r.Returns(); n != 0 {
		t.Fatalf("%d returns before any burst", n)
	}
	burst(64 << 20)
	// Read what is released once the burst is over, not before it: the burst may reuse pages an
	// earlier test's return released (tests run shuffled), which lowers the count it starts
	// from. The return needs a quiet spell, so it has not happened yet.
	before := heapReleased()
	waitFor(t, "a return after the burst", func() bool { return r.Returns() >= 1 })
	if after := heapReleased(); after < before+32<<20 {
		t.Errorf("heap released %d MiB after the return, %d MiB at the end of a 64 MiB burst", after>>20, before>>20)
	}
	// Quiet without a new burst: nothing more to return.
	looks := r.Looks()
	waitFor(t, "more looks", func() bool { return r.Looks() >= looks+30 })
	if n := r.Returns(); n != 1 {
		t.Fatalf("%d returns after one burst", n)
	}
}

// TestReturnEmptiesPools: what a burst left in a sync.Pool (lineproto's output blocks) is
// dropped by a return, which one collection alone would not do (it moves a pool's contents to
// its victim cache).
func TestReturnEmptiesPools(t *testing.T) {
	var made atomic.Int64
	pool := sync.Pool{New: func() any { made.Add(1); return new([1024]byte) }}
	r := Start(testConfig(), nil)
	defer r.Stop()
	before := r.Returns()
	burst(64 << 20)
	// Put after the burst's own collections, as the storm's last blocks are.
	for range 64 {
		pool.Put(new([1024]byte))
	}
	waitFor(t, "a return after the burst", func() bool { return r.Returns() > before })
	pool.Get()
	if made.Load() != 1 {
		t.Fatalf("a Get after the return found a block the burst left (New was called %d times)", made.Load())
	}
}

// TestNotWhileBusy: while the process allocates fast, nothing is returned, however much it
// allocated; once it stops, its memory is.
func TestNotWhileBusy(t *testing.T) {
	r := Start(testConfig(), nil)
	defer r.Stop()
	looks := r.Looks()
	pace := time.NewTicker(5 * time.Millisecond)
	defer pace.Stop()
	for r.Looks() < looks+40 { // 40 looks, 20 quiet spells long, at 4 MiB per 5 ms at most
		burst(4 << 20)
		<-pace.C
	}
	if n := r.Returns(); n != 0 {
		t.Fatalf("%d returns while the process allocated without a pause", n)
	}
	waitFor(t, "a return once the process is quiet", func() bool { return r.Returns() >= 1 })
}

// TestStop: Stop ends the goroutine (goleak checks at the end of the package's tests), may be
// called twice, and a Returner that is off starts nothing.
func TestStop(t *testing.T) {
	r := Start(testConfig(), nil)
	waitFor(t, "a look", func() bool { return r.Looks() >= 1 })
	r.Stop()
	r.Stop()
	if err := goleak.Find(); err != nil {
		t.Fatalf("after Stop: %v", err)
	}

	off := Start(Config{}, nil)
	burst(32 << 20)
	off.Stop()
	if off.Looks() != 0 || off.Returns() != 0 {
		t.Fatalf("a Returner that is off looked %d times and returned %d times", off.Looks(), off.Returns())
	}
}
