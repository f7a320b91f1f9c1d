package wsgateway

import (
	"net/netip"
	"net/url"
	"path"
	"strings"
)

// originAllowed reports whether a page from origin (the request's Origin header) may connect:
// a request without one (not from a browser page), a page served from a loopback address, or
// one that OriginPatterns lists. The Host header plays no part: a page on another site, reached
// through a DNS name that it points at this server (DNS rebinding), sends its own name as both
// Origin and Host.
func (s *Server) originAllowed(origin string) bool {
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false // "null" (a sandboxed page, a file), or not an origin at all
	}
	if isLoopback(u.Hostname()) {
		return true
	}
	host := strings.ToLower(u.Host)
	for _, p := range s.cfg.OriginPatterns {
		p = strings.ToLower(p)
		target := host
		if strings.Contains(p, "://") {
			target = strings.ToLower(u.Scheme) + "://" + host
		}
		if ok, err := path.Match(p, target); err == nil && ok {
			return true
		}
	}
	return false
}

// isLoopback reports whether host (no port, no brackets) names this machine: localhost, or an
// address in 127.0.0.0/8 or ::1.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback() && a.Zone() == ""
}
