//go:build !linux

package loadgen

// bindAddressNoPort is Linux's; elsewhere bind chooses the source port.
func bindAddressNoPort(uintptr) {}
