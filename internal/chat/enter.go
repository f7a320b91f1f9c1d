package chat

import "errors"

// Enter is Connect for a transport whose client names itself in one step (IRC's NICK): it
// makes c the guest called name, or the account given in p (p.Account, proven by the
// transport: IRC's SASL), and says why not with a typed *Error instead of asking again at a
// prompt: CodeBadName (not a name, reserved), CodeNameBanned, CodeNameRegistered (an account
// or an operator's name: log in to use it, or the server takes accounts only), CodeNameInUse
// (someone online holds it or a look-alike), CodeNotAllowed (the account's devices are all
// connected, or on another node), CodeUnavailable. A banned address gets ErrBanned, having been
// told nothing; the transport says so in its own words. On success the member is welcomed
// (KindWelcome, the MOTD, the lobby) as at the prompt, and nothing was said on failure.
func (h *Hub) Enter(c Client, p Peer, name string) (*Session, error) {
	remote := p.Addr.Unmap()
	h.mu.Lock()
	banned := h.bans.addrBannedLocked(remote, h.now())
	h.mu.Unlock()
	if banned {
		return nil, ErrBanned
	}
	var acc *Account
	if p.Account != "" {
		name = p.Account
	}
	n, err := ParseName(name)
	if err == nil && p.Account == "" && h.isReserved(n) {
		err = badName("that name is reserved")
	}
	if bad, ok := err.(*NameError); ok {
		return nil, fail(CodeBadName, "%s", bad.Reason)
	}
	h.mu.Lock()
	banned = h.bans.nameBannedLocked(n, h.now())
	h.mu.Unlock()
	if banned {
		return nil, fail(CodeNameBanned, "that name is banned")
	}
	found, has, err := h.findAccount(n)
	if err != nil {
		h.log.Error("enter", "err", err)
		return nil, fail(CodeUnavailable, "the server cannot check names just now, please try again later")
	}
	switch {
	case p.Account != "":
		if !has || found.Name != p.Account {
			return nil, ErrNoAccount
		}
		acc = &found
	case has:
		return nil, fail(CodeNameRegistered, "%s is a registered account: log in to use it (SASL), or choose another name", found.Name)
	case h.cfg.AccountsRequired:
		return nil, fail(CodeNameRegistered, "this server is for accounts only: register one on the line chat or the web page, then log in (SASL)")
	case h.operatorName(n):
		return nil, fail(CodeNameRegistered, "that name is kept for an operator")
	}
	s := &Session{hub: h, client: c, remote: remote, connected: h.now(), token: p.Token, id: h.nextID.Add(1)}
	switch err := h.register(s, n, acc); {
	case err == nil:
		return s, nil
	case errors.Is(err, errNameBanned):
		return nil, fail(CodeNameBanned, "that name is banned")
	case errors.Is(err, errOnAnotherNode):
		return nil, fail(CodeNotAllowed, "%s is connected through another server of this chat", n.Display)
	case errors.Is(err, errTooManyDevices):
		return nil, fail(CodeNotAllowed, "%s is connected from %d devices already, the most allowed", n.Display, h.cfg.MaxSessionsPerAccount)
	default:
		return nil, fail(CodeNameInUse, "%s is taken (by that name or one that looks like it)", n.Display)
	}
}
