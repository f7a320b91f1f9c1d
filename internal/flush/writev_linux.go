package flush

import (
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// iovecs holds the kernel's view of a writev's buffers. unix.Writev makes one per call, and one
// of more than eight buffers on the heap: a WebSocket frame is a buffer of its own, so a
// flush of a fan-out's frames made 16 KB of garbage per writev (a tenth of the gateway's CPU
// went to the collector and its write barriers).
var iovecs = sync.Pool{New: func() any { v := make([]unix.Iovec, 0, MaxIovecs+24); return &v }}

// writev is unix.Writev without its allocation.
func writev(fd int, bufs [][]byte) (int, error) {
	p := iovecs.Get().(*[]unix.Iovec)
	iov := (*p)[:0]
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		v := unix.Iovec{Base: &b[0]}
		v.SetLen(len(b))
		iov = append(iov, v)
	}
	var n uintptr
	var errno unix.Errno
	if len(iov) > 0 {
		n, _, errno = unix.Syscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	}
	clear(iov) // the pool must not keep the buffers alive
	*p = iov[:0]
	iovecs.Put(p)
	if errno != 0 {
		return -1, errno
	}
	return int(n), nil
}

// bytesAcked returns how many bytes the peer of the TCP socket raw has acknowledged since it
// connected: what it took, whatever the socket was handed meanwhile (a count of what is
// unsent, as unsent, goes down as the client reads and up again as a blocked write refills
// the socket, and may read the same at every look).
func bytesAcked(raw syscall.RawConn) (uint64, bool) {
	var info *unix.TCPInfo
	var err error
	if cerr := raw.Control(func(fd uintptr) {
		info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); cerr != nil || err != nil {
		return 0, false
	}
	return info.Bytes_acked, true
}
