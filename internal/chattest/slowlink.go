package chattest

import (
	"context"
	"fmt"
	"net"
	"syscall"
	"time"
)

// slowLinkWindow is the receive buffer of a slow link's socket: small, so that what its reader
// is behind by stays on the server's side (loopback's buffers grow to megabytes), and so that
// a reader that takes a few KB a second opens its window several times a second.
const slowLinkWindow = 2 << 10

// slowLink is a TCP connection whose socket is read no faster than rate bytes a second, a
// small piece at a time, as a slow link delivers: a stream over it (TLS) reads its records
// from the socket at that pace, not a record at once and then nothing for seconds.
type slowLink struct {
	net.Conn
	rate, piece int
	start       time.Time
	total       int
}

func (l *slowLink) Read(p []byte) (int, error) {
	if l.start.IsZero() {
		l.start = time.Now()
	}
	// A slow link: the next piece comes once the bytes read so far are due at rate.
	<-time.After(time.Until(l.start.Add(time.Duration(l.total) * time.Second / time.Duration(l.rate))))
	n, err := l.Conn.Read(p[:min(len(p), l.piece)])
	l.total += n
	return n, err
}

// SlowLinkDialer returns a dial function (net.Dialer.DialContext's) whose connections have a
// small receive buffer and are read at rate bytes a second, in pieces of a tenth of that: a
// client over it reads slowly, but steadily.
func SlowLinkDialer(rate int) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: Timeout, Control: func(_, _ string, rc syscall.RawConn) error {
		var err error
		if cerr := rc.Control(func(fd uintptr) {
			err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, slowLinkWindow)
		}); cerr != nil {
			return cerr
		}
		return err
	}}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, fmt.Errorf("dial a slow link: %w", err)
		}
		return &slowLink{Conn: nc, rate: rate, piece: max(rate/10, 1)}, nil
	}
}
