package chattest

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// KernelHolds returns the bytes the kernel holds between a server on 127.0.0.1 and its client
// connection nc: what the server's socket has not had acknowledged (sent or not) and what nc
// has received and not read. Beside what a client then reads, it says how much the server
// process itself held for it (its queue, its writer), with no view into the server. A server
// socket gone (the connection was reset) holds nothing. Linux only: it reads /proc/net/tcp.
func KernelHolds(t testing.TB, nc net.Conn) int {
	t.Helper()
	raw, err := nc.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatalf("kernel holds: %v", err)
	}
	unread, ierr := -1, error(nil)
	if err := raw.Control(func(fd uintptr) { unread, ierr = unix.IoctlGetInt(int(fd), unix.SIOCINQ) }); err != nil || ierr != nil {
		t.Fatalf("kernel holds: SIOCINQ: %v %v", err, ierr)
	}
	text, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatalf("kernel holds: %v", err)
	}
	// Rows: sl local_address rem_address st tx_queue:rx_queue ..., addresses as hex IP:port.
	local, remote := nc.LocalAddr().(*net.TCPAddr), nc.RemoteAddr().(*net.TCPAddr)
	clientSide, serverSide := fmt.Sprintf(":%04X", local.Port), fmt.Sprintf(":%04X", remote.Port)
	for _, row := range strings.Split(string(text), "\n")[1:] {
		f := strings.Fields(row)
		if len(f) < 5 || !strings.HasSuffix(f[1], serverSide) || !strings.HasSuffix(f[2], clientSide) {
			continue
		}
		tx, _, _ := strings.Cut(f[4], ":")
		n, err := strconv.ParseInt(tx, 16, 64)
		if err != nil {
			t.Fatalf("kernel holds: %q: %v", row, err)
		}
		return unread + int(n)
	}
	return unread
}
