//go:build !linux

package flush

import "golang.org/x/sys/unix"

func writev(fd int, bufs [][]byte) (int, error) { return unix.Writev(fd, bufs) }

// unsent returns -1: the count is Linux's.
func unsent(raw interface {
	Control(func(fd uintptr)) error
}) int {
	return -1
}
