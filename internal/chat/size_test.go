package chat

import (
	"testing"
	unsafeptr "unsafe" // fuzz_test.go has a func named unsafe
)

// TestIdleStateSizes: what each connected user holds in the chat stays in the size classes
// it was brought down to (docs/benchmarks.md, "Idle memory after the storm"): a field that
// only some sessions need is allocated when first needed, not in every Session.
func TestIdleStateSizes(t *testing.T) {
	for _, tt := range []struct {
		what      string
		size, max uintptr
	}{
		{"Session", unsafeptr.Sizeof(Session{}), 256},
		{"member", unsafeptr.Sizeof(member{}), 176},
	} {
		if tt.size > tt.max {
			t.Errorf("a %s is %d bytes, more than the %d of its size class", tt.what, tt.size, tt.max)
		}
	}
}
