package main

import (
	"flag"
	"io"
	"slices"
	"strings"
)

// reloadable are the settings that SIGHUP applies to a running server without dropping anyone.
// The message of the day is read again from its file even when the file's name is unchanged.
var reloadable = []string{"log-level", "max-conns", "max-conns-per-ip", "limit-exempt", "ipv6-prefix", "motd-file", "operators", "tls-cert", "tls-key"}

// Reload applies what can change live from next, a configuration read again, and logs what
// changed, what could not be applied (a file that cannot be read keeps the old value), and
// which changes wait for a restart.
func (m *Main) Reload(next Config) {
	changed := changedSettings(m.cfg, next)
	var applied, failed, later []string
	for _, name := range changed {
		// A certificate given to a server started without one needs its listeners: a restart.
		if !slices.Contains(reloadable, name) || m.certs == nil && strings.HasPrefix(name, "tls-") {
			later = append(later, name)
		}
	}
	if slices.Contains(changed, "log-level") && m.level != nil {
		level, _ := next.logLevel() // checked by validate
		m.level.Set(level)
		m.cfg.LogLevel = next.LogLevel
		applied = append(applied, "log-level")
	}
	limits := []string{"max-conns", "max-conns-per-ip", "limit-exempt", "ipv6-prefix"}
	if slices.ContainsFunc(changed, func(n string) bool { return slices.Contains(limits, n) }) {
		m.limiter.SetLimits(next.limits())
		m.cfg.MaxConns, m.cfg.MaxConnsPerIP, m.cfg.LimitExempt = next.MaxConns, next.MaxConnsPerIP, next.LimitExempt
		m.cfg.IPv6Prefix = next.IPv6Prefix
		applied = append(applied, limits...)
	}
	if m.hub != nil {
		var motd []string
		var err error
		if next.MOTDFile != "" {
			motd, err = readMOTD(next.MOTDFile)
		}
		switch {
		case err != nil:
			m.log.Error("reload: cannot read the message of the day, the old one stays; fix the file and reload again",
				"file", next.MOTDFile, "err", err)
			failed = append(failed, "motd-file")
		case !slices.Equal(motd, m.hub.MOTD()):
			m.hub.SetMOTD(motd)
			m.cfg.MOTDFile = next.MOTDFile
			applied = append(applied, "motd")
		}
		if slices.Contains(changed, "operators") {
			ops, _ := next.operators() // checked by validate
			m.hub.SetOperators(ops)
			m.cfg.Operators = next.Operators
			applied = append(applied, "operators")
		}
	}
	// The certificate's files are read again even when their names are unchanged: renewing a
	// certificate replaces the files.
	switch ok, bad := m.reloadCerts(next); {
	case ok:
		applied = append(applied, "tls-cert")
	case bad:
		failed = append(failed, "tls-cert")
	}
	if len(failed) > 0 {
		m.log.Warn("reloaded", "applied", strings.Join(applied, ","), "failed", strings.Join(failed, ","))
	} else {
		m.log.Info("reloaded", "applied", strings.Join(applied, ","))
	}
	if len(later) > 0 {
		m.log.Warn("reload: these settings change only on restart", "settings", strings.Join(later, ","))
	}
}

// changedSettings returns the names of the settings that differ between a and b.
func changedSettings(a, b Config) []string {
	before := map[string]string{}
	flagSet(&a, io.Discard).VisitAll(func(f *flag.Flag) { before[f.Name] = f.Value.String() })
	var changed []string
	flagSet(&b, io.Discard).VisitAll(func(f *flag.Flag) {
		if before[f.Name] != f.Value.String() {
			changed = append(changed, f.Name)
		}
	})
	return changed
}
