package flush

import (
	"bytes"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

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

// TestWritevAllocatesNothing: a Writer's writev through a socket's RawConn allocates nothing,
// waiting or not (a closure per call was the most a paced conversation allocated: a collection every
// 300 ms).
func TestWritevAllocatesNothing(t *testing.T) {
	server := drainedConn(t)
	raw, err := server.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	bufs := [][]byte{[]byte("hello "), []byte("world\r\n")}
	var w Writer
	for _, write := range []func(syscall.RawConn, [][]byte) (int, error){w.Writev, w.WritevWait} {
		if allocs := testing.AllocsPerRun(100, func() {
			if n, err := write(raw, bufs); n != 13 || err != nil {
				t.Fatalf("writev: %d, %v", n, err)
			}
		}); allocs != 0 {
			t.Errorf("a writev allocated %.1f times", allocs)
		}
	}
}

// TestStreamWriterAllocatesNothing: a StreamWriter's writes that the socket takes at once
// allocate nothing once it has written one (review: a timer and its watch were made for
// every write, 3 allocations and about 1.5 µs).
func TestStreamWriterAllocatesNothing(t *testing.T) {
	server := drainedConn(t)
	hello, world := []byte("hello "), []byte("world\r\n")
	var s StreamWriter
	if allocs := testing.AllocsPerRun(100, func() {
		// WriteStream takes its bufs as it goes: a fresh pair each time.
		if n, err := s.Write(server, [][]byte{hello, world}, time.Minute); n != 13 || err != nil {
			t.Fatalf("write: %d, %v", n, err)
		}
	}); allocs != 0 {
		t.Errorf("a write allocated %.1f times", allocs)
	}
}

// drainedConn returns the server's end of a loopback TCP connection whose client reads
// everything, both closed when the test ends.
func drainedConn(t *testing.T) net.Conn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { server.Close() })
	go io.Copy(io.Discard, client) // ends when the test closes the connections
	return server
}

// TestWriterAfterClose: a Writer's writev to a socket closed since its last one says nothing
// went, not what the last one wrote (RawConn.Write fails without calling it).
func TestWriterAfterClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	raw, err := client.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var w Writer
	if n, err := w.Writev(raw, [][]byte{[]byte("hello")}); n != 5 || err != nil {
		t.Fatalf("writev: %d, %v", n, err)
	}
	client.Close()
	if n, err := w.Writev(raw, [][]byte{[]byte("hello")}); n != 0 || err == nil {
		t.Fatalf("writev to a closed socket: %d, %v; want 0 and an error", n, err)
	}
}
