//go:build !linux

package flush

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// writev writes bufs in turn where x/sys has no writev (FreeBSD): one syscall per buffer, until
// the socket takes less than a whole one.
func writev(fd int, bufs [][]byte) (int, error) {
	total := 0
	for _, b := range bufs {
		n, err := unix.Write(fd, b)
		total += max(n, 0)
		if err != nil {
			if total > 0 && (err == unix.EAGAIN || err == unix.EINTR) {
				return total, nil
			}
			return total, err
		}
		if n < len(b) {
			break
		}
	}
	return total, nil
}

// bytesAcked reports no count: it is Linux's (TCP_INFO).
func bytesAcked(raw syscall.RawConn) (uint64, bool) { return 0, false }
