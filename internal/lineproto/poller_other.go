//go:build !linux

package lineproto

import (
	"errors"
	"log/slog"
)

// poller is Linux's epoll (poller.go); elsewhere each TCP connection is read by a goroutine
// of its own, as a stream is.
type poller struct{}

var errNoPoller = errors.New("no poller on this system")

func newPoller(*slog.Logger) (*poller, error) { return nil, errNoPoller }
func (p *poller) add(*conn)                   {}
func (p *poller) forget(*conn)                {}
func (p *poller) arm(*conn, bool) error       { return errNoPoller }
func (p *poller) run()                        {}
func (p *poller) close()                      {}
