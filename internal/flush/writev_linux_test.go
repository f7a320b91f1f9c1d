package flush

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestWritev: what writev hands the kernel is the buffers in order, empty ones skipped, as
// unix.Writev would.
func TestWritev(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	var bufs [][]byte
	var want bytes.Buffer
	for i := range 300 {
		b := []byte(strings.Repeat(string(rune('a'+i%26)), i%7))
		bufs = append(bufs, b)
		want.Write(b)
	}
	for range 2 { // a second time through the pool's array
		n, err := writev(fds[0], bufs)
		if err != nil || n != want.Len() {
			t.Fatalf("writev: %d, %v; want %d", n, err, want.Len())
		}
		got := make([]byte, want.Len())
		for read := 0; read < len(got); {
			m, err := unix.Read(fds[1], got[read:])
			if err != nil {
				t.Fatal(err)
			}
			read += m
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("the socket got %q, want %q", got, want.Bytes())
		}
	}
	if n, err := writev(fds[0], [][]byte{nil, {}}); n != 0 || err != nil {
		t.Fatalf("writev of nothing: %d, %v", n, err)
	}
	unix.Close(fds[1])
	if _, err := writev(fds[0], [][]byte{[]byte("x")}); err != unix.EPIPE {
		t.Fatalf("writev to a closed socket: %v, want EPIPE", err)
	}
}
