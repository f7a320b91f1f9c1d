package chat

import (
	"strings"

	"hubbub/internal/safetext"
)

// maxQuitReason bounds the reason shown to everyone when a user quits, in bytes.
const maxQuitReason = 200

type command struct {
	name  string
	args  string // usage of the arguments, for /help
	about string
	run   func(s *Session, args string) error
}

// commandTable returns the commands in the order /help lists them.
func commandTable() []command {
	return []command{
		{name: "help", about: "list the commands", run: (*Session).cmdHelp},
		{name: "quit", args: "[REASON]", about: "leave the chat", run: (*Session).cmdQuit},
	}
}

// command runs the command line typed after its leading '/'.
func (s *Session) command(line string) error {
	name, args, _ := strings.Cut(line, " ")
	name = strings.ToLower(name)
	for _, c := range s.hub.commands {
		if c.name == name {
			return c.run(s, strings.TrimSpace(args))
		}
	}
	s.noticef("unknown command /%s, try /help", safetext.CleanString(safetext.Truncate(name, 32)))
	return nil
}

func (s *Session) cmdHelp(string) error {
	s.notice("commands:")
	for _, c := range s.hub.commands {
		usage := "/" + c.name
		if c.args != "" {
			usage += " " + c.args
		}
		s.noticef("  %-16s %s", usage, c.about)
	}
	s.notice("  //TEXT           say a line that starts with /")
	return nil
}

func (s *Session) cmdQuit(args string) error {
	s.quitReason = safetext.Truncate(strings.TrimSpace(safetext.CleanString(args)), maxQuitReason)
	s.notice("goodbye")
	return ErrQuit
}
