//go:build !linux

package wsgateway

import "errors"

// poller is Linux's epoll (poller_linux.go); elsewhere connections are read as streams, by a
// goroutine each.
type poller struct{}

func newPoller() (*poller, error)   { return nil, errors.New("no poller on this system") }
func (p *poller) add(c *conn) error { return errors.New("no poller on this system") }
func (p *poller) arm(c *conn) error { return errors.New("no poller on this system") }
func (p *poller) remove(c *conn)    {}
func (p *poller) close()            {}
