package connpolicy

import (
	"testing"
	"testing/synctest"
	"time"
)

type floodCount struct{ n int }

func (f *floodCount) Flooding() { f.n++ }

type rateCount struct {
	NoObserver
	limited int
}

func (r *rateCount) RateLimited() { r.limited++ }

// TestBucket sends lines as fast as Take lets them through, in a bubble of fake time: the burst
// passes at once, then the rate holds, and a client held back without let-up is told it floods
// once per FloodAfter, where a client that pauses to let the bucket fill never is.
func TestBucket(t *testing.T) {
	tests := []struct {
		name      string
		lines     int
		pause     time.Duration // between lines
		wantFlood int
		wantTook  time.Duration // fake time the lines took
	}{
		{"burst", 5, 0, 0, 0},
		{"paced at the rate", 50, 100 * time.Millisecond, 0, 49 * 100 * time.Millisecond},
		{"flood", 5 + 40, 0, 1, 4 * time.Second},        // 40 lines past the burst at 10/s
		{"long flood", 5 + 100, 0, 3, 10 * time.Second}, // told after 3, 6 and 9 s held
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := NewBucket(Limits{LineRate: 10, LineBurst: 5, FloodAfter: 3 * time.Second})
				var f floodCount
				var obs rateCount
				start := time.Now()
				for i := range tt.lines {
					if i > 0 && tt.pause > 0 {
						<-time.After(tt.pause) // the bubble's fake clock: the user pauses
					}
					if !b.Take(nil, &f, &obs) {
						t.Fatal("Take gave up")
					}
				}
				if took := time.Since(start); took.Round(time.Millisecond) != tt.wantTook {
					t.Errorf("took %v, want %v", took, tt.wantTook)
				}
				if f.n != tt.wantFlood {
					t.Errorf("told of a flood %d times, want %d", f.n, tt.wantFlood)
				}
				if tt.wantFlood > 0 && obs.limited == 0 {
					t.Error("no line counted as held back")
				}
			})
		})
	}
}

// TestBucketStopsWaiting: a connection that closes while its reader waits for a token ends the
// wait.
func TestBucketStopsWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := NewBucket(Limits{LineRate: 1, LineBurst: 1})
		done := make(chan struct{})
		if !b.Take(done, &floodCount{}, NoObserver{}) {
			t.Fatal("the burst was refused")
		}
		time.AfterFunc(100*time.Millisecond, func() { close(done) })
		if b.Take(done, &floodCount{}, NoObserver{}) {
			t.Fatal("Take went on after done")
		}
	})
}
