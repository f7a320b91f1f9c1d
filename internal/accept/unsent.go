package accept

import (
	"errors"
	"fmt"
	"net"
	"syscall"
)

// minUnsent is the least UnsentLimit returns: below a few segments, a writev of a full queue
// would be cut into many.
const minUnsent = 16 << 10

// UnsentLimit is how many bytes a chat connection's socket may hold that the kernel has not
// sent yet, for a transport that queues at most maxQueue bytes of its own (--max-queue): a
// quarter of it.
//
// Linux grows a socket's send buffer to megabytes (net.ipv4.tcp_wmem), many times
// --max-queue: a client that reads slowly had its backlog sit in the kernel, out of reach of
// the slow-reader rule, which skips only what is in the transport's queue, so it was told of
// the lines it missed, and answered, only once the kernel had sent it all (minutes at
// 10 KB/s). With at most a quarter of the queue unsent in the kernel, what it waits for
// before its notice is that quarter, and before an answer the queue and that quarter.
func UnsentLimit(maxQueue int) int { return max(maxQueue/4, minUnsent) }

// LimitUnsent has the kernel take no more of c's output than n bytes it has not sent yet
// (TCP_NOTSENT_LOWAT on Linux): past that, a write takes nothing and the socket shows
// writable again only once the client made room. What the client's window lets through is
// sent at once, as before, and the send buffer still grows for it: a fast reader, or one far
// away, is not slowed, unlike with a smaller SO_SNDBUF, which would bound what is in flight
// too. c is a TCP connection, or a stream over one (its NetConn, as a TLS one).
func LimitUnsent(c net.Conn, n int) error {
	for {
		o, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		c = o.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return fmt.Errorf("limit unsent bytes: a %T has no socket: %w", c, errors.ErrUnsupported)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return fmt.Errorf("limit unsent bytes: %w", err)
	}
	var serr error
	if err := raw.Control(func(fd uintptr) { serr = limitUnsent(fd, n) }); err != nil {
		return fmt.Errorf("limit unsent bytes: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("limit unsent bytes: %w", serr)
	}
	return nil
}
