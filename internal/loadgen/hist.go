package loadgen

import (
	"encoding/json"
	"math/bits"
	"sync/atomic"
	"time"
)

// subBuckets per power of two: a recorded value is known to within 1/64 (1.6%).
const (
	subBits    = 6
	subBuckets = 1 << subBits
	numBuckets = subBuckets + (64-subBits)*subBuckets
)

// Hist is a latency histogram that many goroutines record into at once and that merges across
// processes. Values are nanoseconds.
type Hist struct {
	counts [numBuckets]atomic.Uint64
	n      atomic.Uint64
	max    atomic.Int64
}

func bucketOf(v uint64) int {
	if v < subBuckets {
		return int(v)
	}
	e := bits.Len64(v) - 1 // >= subBits
	sub := (v >> (e - subBits)) & (subBuckets - 1)
	return subBuckets + (e-subBits)*subBuckets + int(sub)
}

// bucketValue is the middle of bucket i.
func bucketValue(i int) uint64 {
	if i < subBuckets {
		return uint64(i)
	}
	e := (i-subBuckets)/subBuckets + subBits
	sub := uint64((i - subBuckets) % subBuckets)
	width := uint64(1) << (e - subBits)
	return (subBuckets+sub)<<(e-subBits) + width/2
}

// Record adds one observation.
func (h *Hist) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))].Add(1)
	h.n.Add(1)
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// Count returns how many observations were recorded.
func (h *Hist) Count() uint64 { return h.n.Load() }

// Max returns the largest observation.
func (h *Hist) Max() time.Duration { return time.Duration(h.max.Load()) }

// Quantile returns the value below which the fraction q of observations fall.
func (h *Hist) Quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.5)
	rank = max(rank, 1)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return min(time.Duration(bucketValue(i)), h.Max())
		}
	}
	return h.Max()
}

// Merge adds o's observations to h.
func (h *Hist) Merge(o *Hist) {
	for i := range o.counts {
		if c := o.counts[i].Load(); c > 0 {
			h.counts[i].Add(c)
		}
	}
	h.n.Add(o.n.Load())
	for {
		m := h.max.Load()
		om := o.max.Load()
		if om <= m || h.max.CompareAndSwap(m, om) {
			return
		}
	}
}

type histJSON struct {
	Buckets [][2]uint64 `json:"buckets"` // [bucket index, count], only non-empty buckets
	Max     int64       `json:"max_ns"`
}

// MarshalJSON encodes the non-empty buckets, for worker processes to send to their parent.
func (h *Hist) MarshalJSON() ([]byte, error) {
	j := histJSON{Max: h.max.Load(), Buckets: [][2]uint64{}}
	for i := range h.counts {
		if c := h.counts[i].Load(); c > 0 {
			j.Buckets = append(j.Buckets, [2]uint64{uint64(i), c})
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes what MarshalJSON made, adding it to h.
func (h *Hist) UnmarshalJSON(b []byte) error {
	var j histJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	for _, bc := range j.Buckets {
		if bc[0] < numBuckets {
			h.counts[bc[0]].Add(bc[1])
			h.n.Add(bc[1])
		}
	}
	if j.Max > h.max.Load() {
		h.max.Store(j.Max)
	}
	return nil
}
