package chattest

import (
	"net"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// WaitSent waits until the kernel has sent the peer everything written on nc (nothing left in
// its send queue): what a client closing with a reset (SO_LINGER 0) has really sent, since the
// reset drops what is still queued.
func WaitSent(t testing.TB, nc net.Conn) {
	t.Helper()
	sc, ok := nc.(syscall.Conn)
	if !ok {
		t.Fatalf("WaitSent: %T is no socket", nc)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	WaitFor(t, "the kernel to send what was written", func() bool {
		queued := -1
		raw.Control(func(fd uintptr) { queued, _ = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ) })
		return queued == 0
	})
}
