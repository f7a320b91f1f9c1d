package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"
)

// probeTimeout bounds finding out whether the server has rooms. A server without rooms never
// answers /join, so only the other user's copy of it, or this much silence, tells.
const probeTimeout = 10 * time.Second

// errNoRooms says that the server took /join ROOM for a chat line: it has no rooms.
var errNoRooms = errors.New("the server has no rooms")

// hasRooms finds out whether the chat server has rooms and takes o.Room as one: two users of
// this run register, and the second says /join ROOM. A server with rooms tells it that it
// joined; a server without (the original) passes the line to the first user as chat. Either
// way nothing this run says reaches the room's history.
func hasRooms(ctx context.Context, d *dialer, room, runID string, part int) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	watcher, err := register(ctx, d, 0, fmt.Sprintf("b%s-%dpw", runID, part))
	if err != nil {
		return false, fmt.Errorf("find out whether the server has rooms: %w", err)
	}
	defer watcher.close()
	name := fmt.Sprintf("b%s-%dpj", runID, part)
	joiner, err := register(ctx, d, 0, name)
	if err != nil {
		return false, fmt.Errorf("find out whether the server has rooms: %w", err)
	}
	defer joiner.close()

	joined, watched := make(chan error, 1), make(chan error, 1)
	dl, _ := ctx.Deadline()
	go func() { joined <- join(joiner, room, dl, name) }()
	go func() { watched <- watchForJoin(watcher, name) }()
	var joinErr, watchErr error
	var joinDone, watchDone bool
	select {
	case joinErr = <-joined:
		joinDone = true
	case watchErr = <-watched:
		watchDone = true
	}
	noRooms := watchDone && errors.Is(watchErr, errNoRooms)
	if !joinDone && !noRooms {
		joinErr, joinDone = <-joined, true // the joiner's error says more than the watcher's
	}
	joiner.close()
	watcher.close()
	if !joinDone {
		<-joined // it ends with its connection
	}
	if !watchDone {
		<-watched
	}
	switch {
	case noRooms:
		return false, nil
	case joinErr != nil:
		return false, fmt.Errorf("room %s: %w", room, joinErr)
	}
	return true, nil
}

// watchForJoin reads lc until another user's line that says /join, which a server without
// rooms shows as chat (the original as "<b'NAME'> b'/join ROOM'").
func watchForJoin(lc *lineConn, name string) error {
	for {
		line, err := lc.readLine()
		if err != nil {
			return err
		}
		if bytes.Contains(line, []byte(name)) && bytes.Contains(line, []byte("/join ")) {
			return errNoRooms
		}
	}
}

// join says /join room on lc and reads until the server says the user joined it, or until
// deadline (none if zero). Registration's own output (the message of the day, the lobby's
// history) may come first, so another notice is no refusal by itself. With name, the user's
// own, join asks /whois name after /join: a server that answers it before saying the user
// joined refused the room, in the notice before that answer. Without, or when the server
// does not answer /whois either, the error says what the server said last.
func join(lc *lineConn, room string, deadline time.Time, name string) error {
	lc.c.SetDeadline(deadline)
	ask := "/join " + room + "\r\n"
	if name != "" {
		ask += "/whois " + name + "\r\n"
	}
	if err := lc.write([]byte(ask)); err != nil {
		return fmt.Errorf("/join %s: %w", room, err)
	}
	whois := []byte("*** " + name + ":")
	var said []byte
	for {
		line, err := lc.readLine()
		if err != nil {
			if said != nil {
				return fmt.Errorf("/join %s: %w (the server last said %q)", room, err, said)
			}
			return fmt.Errorf("/join %s: %w", room, err)
		}
		for _, ok := range [][]byte{[]byte("*** you made "), []byte("*** you joined "), []byte("*** now talking in ")} {
			if bytes.HasPrefix(line, ok) {
				return nil
			}
		}
		if name != "" && bytes.HasPrefix(line, whois) && said != nil {
			return &serverSaid{line: string(said)}
		}
		if bytes.HasPrefix(line, []byte("*")) {
			said = append(said[:0], line...)
		}
	}
}
