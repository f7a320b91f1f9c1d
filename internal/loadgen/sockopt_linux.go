package loadgen

import "golang.org/x/sys/unix"

// bindAddressNoPort lets connect choose the source port, per destination, instead of bind
// choosing it alone: many more connections from one source address.
func bindAddressNoPort(fd uintptr) {
	unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
}
