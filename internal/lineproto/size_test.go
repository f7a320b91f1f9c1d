package lineproto

import (
	"testing"
	"unsafe"
)

// TestConnSize: a conn stays in the 512-byte size class (see the comment on its fields):
// 10,000 idle connections are 640 KB more in the next one.
func TestConnSize(t *testing.T) {
	if n := unsafe.Sizeof(conn{}); n > 512 {
		t.Errorf("a conn is %d bytes, more than the 512 of its size class: pack its fields", n)
	}
}
