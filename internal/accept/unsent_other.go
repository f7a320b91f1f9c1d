//go:build !linux

package accept

// limitUnsent does nothing here: the send buffers that grew to megabytes are Linux's
// (net.ipv4.tcp_wmem), and the option that bounds their unsent part is not everywhere.
func limitUnsent(fd uintptr, n int) error { return nil }
