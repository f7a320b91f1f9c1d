package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"hubbub/internal/chat"
	"hubbub/internal/natsnode"
	"hubbub/internal/natsstore"
	"hubbub/internal/password"
	"hubbub/internal/safetext"
	"hubbub/internal/sqlite"
)

// accountUsage is `hubbub account --help`.
const accountUsage = `Usage:
  hubbub account list                   list the accounts
  hubbub account show NAME              show an account: name, id, created, operator
  hubbub account create NAME            register NAME; asks for its password
  hubbub account reset-password NAME    give an account a new password; asks for it
  hubbub account delete NAME            delete an account
  hubbub account oper NAME [--off]      mark an account an operator (--off: unmark it)

The commands act on the database in the data directory, the one the server uses, and are safe
while the server runs. A change applies at the account's next login: a session logged in now
keeps its state until it reconnects. A password is asked twice on a terminal, with nothing
shown; otherwise it is the first line of the standard input (hubbub account create alice
< file). It is never given on the command line, where others could read it.

Flags (anywhere after "account"):
`

// Limits of `hubbub account`.
const (
	accountCommandTimeout = 2 * time.Minute // opening, checking and changing the database
	maxPasswordLine       = 4096            // a line on stdin longer than this is no password
)

// accountFlags are the settings of `hubbub account`.
type accountFlags struct {
	cfg  Config // the data directory, read as serve reads it
	json bool
	off  bool
}

// account runs `hubbub account ...` and returns the exit code: 0 done, 1 refused or failed,
// 2 a command line that is not understood.
func account(args []string, stdin *os.File, stdout, stderr io.Writer) int {
	f, words, err := parseAccountFlags(args, os.LookupEnv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "hubbub account: %v\nhubbub account --help lists the commands.\n", err)
		return 2
	}
	if err := checkAccountWords(words, f.off); err != nil {
		fmt.Fprintf(stderr, "hubbub account: %v\nhubbub account --help lists the commands.\n", err)
		return 2
	}
	a := &accountRun{flags: f, stdin: stdin, stdout: stdout, stderr: stderr}
	if err := a.run(words[0], words[1:]); err != nil {
		fmt.Fprintf(stderr, "hubbub account: %v\n", err)
		return 1
	}
	return 0
}

// parseAccountFlags reads the configuration file and the environment as serve does (only the
// data directory matters here, but a file that serve would refuse is refused), then the
// flags, which may come before or after the command and its name.
func parseAccountFlags(args []string, lookupEnv func(string) (string, bool), out io.Writer) (accountFlags, []string, error) {
	f := accountFlags{cfg: defaultConfig()}
	serveFlags := flagSet(&f.cfg, io.Discard)
	if path := configPath(args, lookupEnv); path != "" {
		if err := applyFile(serveFlags, path); err != nil {
			return f, nil, err
		}
	}
	if v, ok := lookupEnv(envName("data-dir")); ok {
		f.cfg.DataDir = v
	}
	fs := flag.NewFlagSet("hubbub account", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	for _, name := range []string{"config", "data-dir", "nats", "nats-creds", "nats-tls-ca"} { // as serve has them
		sf := serveFlags.Lookup(name)
		fs.Var(sf.Value, name, sf.Usage)
	}
	fs.BoolVar(&f.json, "json", false, "print one JSON document on stdout (list: an array)")
	fs.BoolVar(&f.off, "off", false, "with oper: take the operator mark away")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprint(w, accountUsage)
		fs.VisitAll(func(f *flag.Flag) {
			kind, usage := flag.UnquoteUsage(f)
			fmt.Fprintf(w, "  %s\n        %s\n", strings.TrimSpace("--"+f.Name+" "+kind), usage)
		})
	}
	var words []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(out)
				fs.Usage()
			}
			return f, nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return f, words, nil
		}
		if len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			return f, append(words, rest...), nil // after --, even "-x" is a name
		}
		words = append(words, rest[0])
		args = rest[1:]
	}
}

// checkAccountWords says what is wrong with the command and its arguments, if anything.
func checkAccountWords(words []string, off bool) error {
	if len(words) == 0 {
		return errors.New("which command? list, show, create, reset-password, delete or oper")
	}
	cmd, names := words[0], len(words)-1
	switch cmd {
	case "list":
		if names != 0 {
			return fmt.Errorf("list takes no name, not %q", words[1])
		}
	case "show", "create", "reset-password", "delete", "oper":
		if names != 1 {
			return fmt.Errorf("%s takes one name", cmd)
		}
	default:
		return fmt.Errorf("unknown command %q", cmd)
	}
	if off && cmd != "oper" {
		return errors.New("--off goes with oper only")
	}
	return nil
}

// accountRun is one run of `hubbub account`.
type accountRun struct {
	flags          accountFlags
	stdin          *os.File
	stdout, stderr io.Writer
	store          accountStore
}

// accountStore is where accounts are kept: a node's SQLite file, or a cluster's NATS
// (internal/natsstore) when --nats is given.
type accountStore interface {
	FindAccount(ctx context.Context, keys [2]string) (chat.Account, bool, error)
	ListAccounts(ctx context.Context) ([]chat.Account, error)
	CreateAccount(ctx context.Context, a chat.Account) error
	SetPassword(ctx context.Context, name, hash string) error
	DeleteAccount(ctx context.Context, name string) error
	SetOper(ctx context.Context, name string, oper bool) error
	Close() error
}

// accountJSON is an account as --json prints it: never its hash.
type accountJSON struct {
	Name     string    `json:"name"`
	ID       int64     `json:"id"`
	Created  time.Time `json:"created"`
	Operator bool      `json:"operator"`
	Deleted  bool      `json:"deleted,omitempty"`
}

func toJSON(acc chat.Account) accountJSON {
	return accountJSON{Name: acc.Name, ID: acc.ID, Created: acc.Created.UTC(), Operator: acc.Oper}
}

func (a *accountRun) run(cmd string, args []string) error {
	var name chat.Name
	var err error
	if len(args) == 1 {
		if name, err = parseAccountName(args[0], cmd == "create"); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), accountCommandTimeout)
	defer cancel()
	log := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if a.flags.cfg.Cluster.NATS != "" {
		closeNATS, err := a.openCluster(ctx, log)
		if err != nil {
			return err
		}
		defer closeNATS()
	} else if err := a.openFile(ctx, cmd, log); err != nil {
		return err
	}
	defer a.store.Close()
	switch cmd {
	case "list":
		err = a.list(ctx)
	case "show":
		err = a.show(ctx, name)
	case "create":
		err = a.create(ctx, name)
	case "reset-password":
		err = a.resetPassword(ctx, name)
	case "delete":
		err = a.delete(ctx, name)
	case "oper":
		err = a.oper(ctx, name)
	}
	if cerr := a.store.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return err
}

// openCluster uses the accounts of the cluster --nats leads to.
func (a *accountRun) openCluster(ctx context.Context, log *slog.Logger) (func(), error) {
	c := a.flags.cfg.Cluster
	nc, js, err := natsnode.Connect(ctx, natsnode.Options{URLs: splitList(c.NATS), Creds: c.Creds, TLSCA: c.TLSCA,
		Name: "hubbub account"}, log)
	if err != nil {
		return nil, err
	}
	st, err := natsstore.New(ctx, js, natsstore.Config{Log: log})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("the cluster's accounts: %w", err)
	}
	a.store = st
	return nc.Close, nil
}

// openFile uses the accounts of this node's SQLite file.
func (a *accountRun) openFile(ctx context.Context, cmd string, log *slog.Logger) error {
	path, err := a.flags.cfg.historyPath()
	if err != nil {
		return err
	}
	// A mistyped --data-dir would otherwise get an empty database of its own, which the
	// server never reads: only create may make one.
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if cmd != "create" {
			return fmt.Errorf("no database at %s: check --data-dir (the server makes it when it first starts)", path)
		}
		fmt.Fprintf(a.stderr, "hubbub account: making a new database at %s\n", path)
	}
	cfg := sqlite.DefaultConfig(path)
	cfg.Fsync = a.flags.cfg.Fsync
	cfg.RetainEvery = 0 // retention is the server's job
	// The server read every page when it started; reading them again, and taking the write
	// lock to try a write, would make each command wait beside it.
	cfg.Check = sqlite.CheckAccounts
	store, err := sqlite.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	a.store = store
	return nil
}

// parseAccountName reads a name as the server's name prompt does; a new one must not be
// reserved either.
func parseAccountName(typed string, isNew bool) (chat.Name, error) {
	n, err := chat.ParseName(typed)
	if bad, ok := errors.AsType[*chat.NameError](err); ok {
		return chat.Name{}, fmt.Errorf("%q: %s", typed, bad.Reason)
	}
	if err != nil {
		return chat.Name{}, err
	}
	if isNew && chat.IsReserved(n) {
		return chat.Name{}, fmt.Errorf("%s: that name is reserved", n.Display)
	}
	return n, nil
}

// find returns the account n or a look-alike of it is registered as.
func (a *accountRun) find(ctx context.Context, n chat.Name) (chat.Account, error) {
	acc, ok, err := a.store.FindAccount(ctx, n.Keys())
	if err != nil {
		return chat.Account{}, err
	}
	if !ok {
		return chat.Account{}, fmt.Errorf("no account %s (hubbub account list shows them)", n.Display)
	}
	return acc, nil
}

func (a *accountRun) list(ctx context.Context) error {
	accounts, err := a.store.ListAccounts(ctx)
	if err != nil {
		return err
	}
	if a.flags.json {
		out := make([]accountJSON, 0, len(accounts))
		for _, acc := range accounts {
			out = append(out, toJSON(acc))
		}
		return a.printJSON(out)
	}
	if len(accounts) == 0 {
		fmt.Fprintln(a.stdout, "no accounts")
		return nil
	}
	width := len("NAME")
	for _, acc := range accounts {
		width = max(width, len(shownName(acc.Name)))
	}
	fmt.Fprintf(a.stdout, "%-*s  %-20s  %s\n", width, "NAME", "CREATED", "OPERATOR")
	for _, acc := range accounts {
		fmt.Fprintf(a.stdout, "%-*s  %-20s  %s\n", width, shownName(acc.Name), accountTime(acc.Created), yesNo(acc.Oper))
	}
	return nil
}

func (a *accountRun) show(ctx context.Context, n chat.Name) error {
	acc, err := a.find(ctx, n)
	if err != nil {
		return err
	}
	if a.flags.json {
		return a.printJSON(toJSON(acc))
	}
	fmt.Fprintf(a.stdout, "name      %s\nid        %d\ncreated   %s\noperator  %s\n",
		shownName(acc.Name), acc.ID, accountTime(acc.Created), yesNo(acc.Oper))
	return nil
}

func (a *accountRun) create(ctx context.Context, n chat.Name) error {
	// Asked before the password is, and again by CreateAccount in the transaction that
	// inserts, which is what decides.
	if acc, ok, err := a.store.FindAccount(ctx, n.Keys()); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("%s is registered, or a name like it: %s", n.Display, shownName(acc.Name))
	}
	hash, err := a.newPassword(n.Display)
	if err != nil {
		return err
	}
	err = a.store.CreateAccount(ctx, chat.Account{Name: n.Display, Keys: n.Keys(), Hash: hash, Created: time.Now()})
	if errors.Is(err, chat.ErrAccountExists) {
		return fmt.Errorf("%s is registered, or a name like it", n.Display)
	}
	if err != nil {
		return err
	}
	acc, err := a.find(ctx, n)
	if err != nil {
		return err
	}
	return a.report(acc, "created account %s", shownName(acc.Name))
}

func (a *accountRun) resetPassword(ctx context.Context, n chat.Name) error {
	acc, err := a.find(ctx, n)
	if err != nil {
		return err
	}
	hash, err := a.newPassword(acc.Name)
	if err != nil {
		return err
	}
	if err := a.store.SetPassword(ctx, acc.Name, hash); err != nil {
		return a.gone(acc, err)
	}
	return a.report(acc, "changed the password of %s: the next login needs the new one (a session logged in now stays until it reconnects)", shownName(acc.Name))
}

func (a *accountRun) delete(ctx context.Context, n chat.Name) error {
	acc, err := a.find(ctx, n)
	if err != nil {
		return err
	}
	if err := a.store.DeleteAccount(ctx, acc.Name); err != nil {
		return a.gone(acc, err)
	}
	if a.flags.json {
		j := toJSON(acc)
		j.Deleted = true
		return a.printJSON(j)
	}
	fmt.Fprintf(a.stdout, "deleted account %s: the name is free for anyone (a session logged in as it now stays until it reconnects)\n", shownName(acc.Name))
	return nil
}

func (a *accountRun) oper(ctx context.Context, n chat.Name) error {
	acc, err := a.find(ctx, n)
	if err != nil {
		return err
	}
	if err := a.store.SetOper(ctx, acc.Name, !a.flags.off); err != nil {
		return a.gone(acc, err)
	}
	acc.Oper = !a.flags.off
	if acc.Oper {
		return a.report(acc, "%s is an operator: the server gives the rights at its next login (a session logged in now keeps its state until it reconnects)", shownName(acc.Name))
	}
	return a.report(acc, "%s is no longer an operator: the server takes the rights away at its next login (a session logged in now keeps its state until it reconnects)", shownName(acc.Name))
}

// gone says so when the account was deleted between finding it and changing it.
func (a *accountRun) gone(acc chat.Account, err error) error {
	if errors.Is(err, chat.ErrNoAccount) {
		return fmt.Errorf("no account %s: it was deleted meanwhile", shownName(acc.Name))
	}
	return err
}

// report prints what was done: the account in JSON with --json, else the sentence.
func (a *accountRun) report(acc chat.Account, format string, args ...any) error {
	if a.flags.json {
		return a.printJSON(toJSON(acc))
	}
	fmt.Fprintf(a.stdout, format+"\n", args...)
	return nil
}

func (a *accountRun) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// shownName is a name as it may go to a terminal: a database is a file anyone with access may
// have written, so a name in it is cleaned like any other text from outside.
func shownName(name string) string { return safetext.CleanString(name) }

func accountTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") }

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// newPassword asks for a new password for name and returns its hash: on a terminal twice,
// with nothing shown; otherwise the first line of stdin, so that scripts can pipe it.
func (a *accountRun) newPassword(name string) (string, error) {
	var pw string
	var err error
	if fd := int(a.stdin.Fd()); term.IsTerminal(fd) {
		pw, err = a.askPassword(fd, name)
	} else {
		pw, err = readPasswordLine(a.stdin)
	}
	if err != nil {
		return "", err
	}
	if err := password.Check(pw); err != nil {
		return "", fmt.Errorf("%w; nothing was changed", err)
	}
	hash, err := password.Hash(pw)
	if err != nil {
		return "", fmt.Errorf("hash the password: %w", err)
	}
	return hash, nil
}

// askPassword asks for the password twice on the terminal fd, echo off. An interrupt while
// it is typed puts the terminal back as it was before the program exits.
func (a *accountRun) askPassword(fd int, name string) (string, error) {
	state, err := term.GetState(fd)
	if err != nil {
		return "", fmt.Errorf("terminal: %w", err)
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-signals:
			term.Restore(fd, state)
			fmt.Fprintln(a.stderr)
			os.Exit(130)
		case <-done:
		}
	}()
	defer func() {
		signal.Stop(signals)
		close(done)
		<-stopped
	}()
	read := func(prompt string) (string, error) {
		// Echo goes off before the question shows: what is typed as soon as it shows must
		// not be echoed in the moment before ReadPassword would turn it off.
		if err := echoOff(fd); err != nil {
			return "", fmt.Errorf("terminal: %w", err)
		}
		defer term.Restore(fd, state)
		fmt.Fprint(a.stderr, prompt)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(a.stderr) // the Enter typed was not shown either
		if err != nil {
			return "", fmt.Errorf("read the password: %w", err)
		}
		return string(b), nil
	}
	first, err := read(fmt.Sprintf("password for %s (%s): ", shownName(name), password.Rule))
	if err != nil {
		return "", err
	}
	if err := password.Check(first); err != nil {
		return "", fmt.Errorf("%w; nothing was changed", err)
	}
	again, err := read("the same password again: ")
	if err != nil {
		return "", err
	}
	if again != first {
		return "", errors.New("the two passwords differ; nothing was changed")
	}
	return first, nil
}

// readPasswordLine reads the first line of r, without its line end, as the password.
func readPasswordLine(r io.Reader) (string, error) {
	line, err := bufio.NewReaderSize(io.LimitReader(r, maxPasswordLine+1), maxPasswordLine+1).ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull) || len(line) > maxPasswordLine:
		return "", errors.New("the first line of the standard input is too long for a password; nothing was changed")
	case err != nil && !errors.Is(err, io.EOF):
		return "", fmt.Errorf("read the password from the standard input: %w", err)
	}
	line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
	if len(line) == 0 {
		return "", errors.New("no password: type it on a terminal, or give it as the first line of the standard input; nothing was changed")
	}
	return string(line), nil
}

// echoOff stops the terminal fd echoing what is typed, leaving the rest of its settings.
func echoOff(fd int) error {
	t, err := unix.IoctlGetTermios(fd, getTermios)
	if err != nil {
		return err
	}
	t.Lflag &^= unix.ECHO
	t.Lflag |= unix.ICANON | unix.ISIG
	t.Iflag |= unix.ICRNL
	return unix.IoctlSetTermios(fd, setTermios, t)
}
