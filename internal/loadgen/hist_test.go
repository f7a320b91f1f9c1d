package loadgen

import (
	"testing"
	"time"
)

func TestHistQuantiles(t *testing.T) {
	var h Hist
	for i := 1; i <= 10000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	for _, tt := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5 * time.Millisecond}, {0.99, 9900 * time.Microsecond}, {0.999, 9990 * time.Microsecond}} {
		got := h.Quantile(tt.q)
		if diff := float64(got-tt.want) / float64(tt.want); diff < -0.02 || diff > 0.02 {
			t.Errorf("p%v = %v, want %v within 2%%", tt.q*100, got, tt.want)
		}
	}
	if h.Max() != 10*time.Millisecond || h.Count() != 10000 {
		t.Errorf("max %v count %d", h.Max(), h.Count())
	}
	var m Hist
	m.Merge(&h)
	m.Merge(&h)
	if m.Count() != 20000 || m.Quantile(0.5) != h.Quantile(0.5) {
		t.Errorf("merge: count %d p50 %v", m.Count(), m.Quantile(0.5))
	}
}

func TestBuckets(t *testing.T) {
	for _, v := range []uint64{0, 1, 63, 64, 65, 127, 128, 1000, 123456789, 1 << 40, 1<<63 + 12345} {
		b := bucketOf(v)
		mid := bucketValue(b)
		if bucketOf(mid) != b {
			t.Errorf("value %d: bucket %d, whose middle %d is in bucket %d", v, b, mid, bucketOf(mid))
		}
		if v >= 64 {
			if diff := float64(mid) - float64(v); diff/float64(v) > 0.02 || diff/float64(v) < -0.02 {
				t.Errorf("value %d shown as %d", v, mid)
			}
		}
	}
}
