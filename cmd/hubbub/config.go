package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"hubbub/internal/accept"
	"hubbub/internal/chat"
	"hubbub/internal/echo"
	"hubbub/internal/lineproto"
	"hubbub/internal/memreturn"
	"hubbub/internal/quote"
	"hubbub/internal/wsgateway"
)

// fdReserve is how many file descriptors --max-conns 0 leaves for everything but client
// connections (listeners, logs, later the database).
const fdReserve = 64

// Config is everything `hubbub serve` can be told.
type Config struct {
	ConfigFile                              string
	WSOrigins                               string
	PublicURL                               string
	ChatAddr, QuoteAddr, EchoAddr, HTTPAddr string
	AdminAddr                               string
	IRCAddr                                 string
	PProf                                   bool
	PIDFile                                 string

	HTTPIdleTimeout    time.Duration
	HTTPTimeout        time.Duration
	HTTPMaxHeaderBytes int

	Line     lineproto.Config
	Chat     chat.Config // MOTD is read from MOTDFile by Main.Run
	MOTDFile string

	// Accounts is on (guests and accounts), required (accounts only) or off (guests only).
	Accounts  string
	Operators string // comma-separated names of operator accounts

	DataDir        string // "" means the default; see dataDir
	NoHistory      bool
	Fsync          bool
	HistoryMaxAge  time.Duration
	HistoryMaxRows int
	Quote          quote.Config
	Echo           echo.Config
	Cluster        ClusterConfig
	TLS            TLSConfig

	MaxConns        int
	MaxConnsPerIP   int
	LimitExempt     string
	IPv6Prefix      int
	ShutdownTimeout time.Duration
	// MemoryReturn says when the memory a burst of work left is given back to the kernel.
	MemoryReturn memreturn.Config

	LogLevel   string
	LogFormat  string
	CPUProfile string
	MemProfile string
}

// defaultConfig returns the embedded defaults: `hubbub` with no flags runs with these.
func defaultConfig() Config {
	return Config{
		ChatAddr:  ":8000",
		QuoteAddr: ":9000",
		EchoAddr:  ":8007",
		HTTPAddr:  ":8080",
		AdminAddr: "127.0.0.1:9090",
		IRCAddr:   ":6667",

		HTTPIdleTimeout:    30 * time.Second,
		HTTPTimeout:        30 * time.Second,
		HTTPMaxHeaderBytes: 16 << 10,

		Line:            lineproto.DefaultConfig(),
		Chat:            chat.DefaultConfig(),
		Accounts:        "on",
		HistoryMaxAge:   90 * 24 * time.Hour,
		HistoryMaxRows:  1_000_000,
		Quote:           quote.DefaultConfig(),
		Echo:            echo.DefaultConfig(),
		Cluster:         defaultClusterConfig(),
		TLS:             defaultTLSConfig(),
		MaxConnsPerIP:   32,
		LimitExempt:     "127.0.0.0/8,::1/128",
		IPv6Prefix:      accept.DefaultIPv6Prefix,
		ShutdownTimeout: 10 * time.Second,
		MemoryReturn:    memreturn.DefaultConfig(),
		LogLevel:        "info",
		LogFormat:       "text",
	}
}

// flagSet binds every setting of cfg to a flag. Its usage text lists them with their
// environment variables.
func flagSet(cfg *Config, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("hubbub serve", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&cfg.ConfigFile, "config", cfg.ConfigFile, "TOML `file` of settings, one key per flag (chat-addr = \":8000\"); flags and the environment win over it")
	fs.StringVar(&cfg.ChatAddr, "chat-addr", cfg.ChatAddr, "chat listener `address`, for telnet and nc; empty turns it off (the web page on --http-addr still chats)")
	fs.StringVar(&cfg.QuoteAddr, "quote-addr", cfg.QuoteAddr, "quote listener `address`; empty turns quote off")
	fs.StringVar(&cfg.EchoAddr, "echo-addr", cfg.EchoAddr, "echo listener `address`; empty turns echo off")
	fs.StringVar(&cfg.IRCAddr, "irc-addr", cfg.IRCAddr, "IRC listener `address`, for irssi, WeeChat and any IRC client (the same rooms, #lobby and the rest); empty turns it off")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", cfg.HTTPAddr, "public HTTP listener `address`: the web page at /, the WebSocket at /ws, /healthz and /readyz; empty turns it off")
	fs.StringVar(&cfg.AdminAddr, "admin-addr", cfg.AdminAddr, "admin HTTP listener `address`: /metrics, /healthz, /readyz and, with --pprof, /debug/pprof/; keep it private; empty turns it off")
	fs.BoolVar(&cfg.PProf, "pprof", cfg.PProf, "serve /debug/pprof/ on the admin listener")
	fs.StringVar(&cfg.PublicURL, "public-url", cfg.PublicURL, "`URL` users reach the web page at (e.g. https://chat.example.com); its host may open /ws")
	fs.DurationVar(&cfg.Line.PingInterval, "ws-ping-interval", cfg.Line.PingInterval, "how often an idle WebSocket or IRC client is pinged; one that does not answer within this `duration` is disconnected; 0: never")
	fs.StringVar(&cfg.WSOrigins, "ws-origins", cfg.WSOrigins, "comma-separated `hosts` whose pages may open /ws besides --public-url's and loopback (path.Match patterns, e.g. *.example.com)")
	fs.DurationVar(&cfg.HTTPIdleTimeout, "http-idle-timeout", cfg.HTTPIdleTimeout, "an HTTP connection idle between requests this `duration` is closed")
	fs.DurationVar(&cfg.HTTPTimeout, "http-timeout", cfg.HTTPTimeout, "time to read an HTTP request and to write its answer (not /ws, which lives on; not /debug/pprof/)")
	fs.IntVar(&cfg.HTTPMaxHeaderBytes, "http-max-header-bytes", cfg.HTTPMaxHeaderBytes, "largest HTTP request header, in `bytes`")
	tlsFlags(fs, &cfg.TLS)
	fs.StringVar(&cfg.PIDFile, "pid-file", cfg.PIDFile, "`file` the server writes its process ID to at start, and removes when it exits")

	fs.IntVar(&cfg.Line.MaxLine, "max-line", cfg.Line.MaxLine, "longest chat line a client may send, in `bytes`; longer lines are discarded")
	fs.IntVar(&cfg.Line.MaxQueue, "max-queue", cfg.Line.MaxQueue, "`bytes` of output queued to one chat client; past it the oldest chat lines for it are skipped (it is told once), and past 4 times it a client that does not read what it asked for is disconnected")
	fs.DurationVar(&cfg.Line.WriteTimeout, "write-timeout", cfg.Line.WriteTimeout, "a chat client whose socket takes no data for this `duration` is disconnected")
	fs.DurationVar(&cfg.Line.RegisterTimeout, "register-timeout", cfg.Line.RegisterTimeout, "time a new chat connection has to choose a name; 0: no limit")
	fs.Float64Var(&cfg.Line.LineRate, "line-rate", cfg.Line.LineRate, "chat `lines` per second one client may send; faster clients are read more slowly; 0: no limit")
	fs.IntVar(&cfg.Line.LineBurst, "line-burst", cfg.Line.LineBurst, "chat `lines` a client may send at once before --line-rate applies")
	fs.DurationVar(&cfg.Line.FloodAfter, "flood-after", cfg.Line.FloodAfter, "a chat client held back by --line-rate this long without let-up is muted for --flood-mute (the default lets a paste of 600 lines at 10/s through); 0: never")
	fs.DurationVar(&cfg.Chat.FloodMute, "flood-mute", cfg.Chat.FloodMute, "how long a flooding chat user is muted")
	fs.IntVar(&cfg.Chat.MaxRoomsPerUser, "max-rooms-per-user", cfg.Chat.MaxRoomsPerUser, "chat rooms one user may be in at once")
	fs.IntVar(&cfg.Chat.AnnounceLimit, "announce-limit", cfg.Chat.AnnounceLimit, "in a chat room of more than this many `members`, joins, leaves and quits are told only for its owner and operators, and /who and IRC's names list at most 50 (moderators first) and the count; 0: always told")
	fs.StringVar(&cfg.Chat.OperPassword, "oper-password", cfg.Chat.OperPassword, "`password` that /oper takes to make a user an operator; empty: no operators (prefer the environment variable: the command line is visible to other local users)")
	fs.StringVar(&cfg.Accounts, "accounts", cfg.Accounts, "`mode` of accounts: on (anyone may /register a name; guests too), required (accounts only: a new name is registered at the prompt) or off (everyone a guest)")
	fs.IntVar(&cfg.Chat.MaxSessionsPerAccount, "max-sessions-per-account", cfg.Chat.MaxSessionsPerAccount, "devices one account may be connected from at once")
	fs.StringVar(&cfg.Operators, "operators", cfg.Operators, "comma-separated `accounts` that are operators when they log in")
	fs.StringVar(&cfg.MOTDFile, "motd-file", cfg.MOTDFile, "text `file` shown to each chat user after the welcome")

	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "`directory` of the history database; empty: $XDG_DATA_HOME/hubbub, or ~/.local/share/hubbub")
	fs.BoolVar(&cfg.NoHistory, "no-history", cfg.NoHistory, "keep no history: no database, no replay, /history or /search, and bans last until restart")
	fs.BoolVar(&cfg.Fsync, "fsync", cfg.Fsync, "wait for the disk at each history commit, so that even a power failure loses no line anyone saw")
	fs.IntVar(&cfg.Chat.Replay, "replay", cfg.Chat.Replay, "`lines` of a room's history shown to whoever joins it")
	fs.DurationVar(&cfg.HistoryMaxAge, "history-max-age", cfg.HistoryMaxAge, "history older than this is deleted; 0: kept forever")
	fs.IntVar(&cfg.HistoryMaxRows, "history-max-rows", cfg.HistoryMaxRows, "`rows` of history (lines, joins, leaves) kept per room, the oldest deleted first; 0: no limit")
	fs.BoolVar(&cfg.Chat.NoPrivateHistory, "no-private-history", cfg.Chat.NoPrivateHistory, "keep private messages nowhere, also between accounts (by default those are kept for their two accounts to read back)")

	fs.IntVar(&cfg.MaxConns, "max-conns", cfg.MaxConns, "connections open at once over all services; 0: the process's file limit less 64")
	fs.IntVar(&cfg.MaxConnsPerIP, "max-conns-per-ip", cfg.MaxConnsPerIP, "connections open at once from one address; 0: no limit")
	fs.StringVar(&cfg.LimitExempt, "limit-exempt", cfg.LimitExempt, "comma-separated `prefixes` that --max-conns-per-ip does not apply to")
	fs.IntVar(&cfg.IPv6Prefix, "ipv6-prefix", cfg.IPv6Prefix, "IPv6 addresses that share a prefix of this many `bits` count as one address for --max-conns-per-ip; 128: each apart")

	fs.StringVar(&cfg.Quote.First, "quote-first", cfg.Quote.First, "the `quote` the quote service starts with")
	fs.IntVar(&cfg.Quote.MaxQuote, "max-quote", cfg.Quote.MaxQuote, "longest quote kept, in `bytes`; longer quotes are cut")
	fs.DurationVar(&cfg.Quote.IdleTimeout, "quote-idle-timeout", cfg.Quote.IdleTimeout, "a quote client idle this `duration` is disconnected")
	fs.DurationVar(&cfg.Echo.IdleTimeout, "echo-idle-timeout", cfg.Echo.IdleTimeout, "an echo client idle this `duration` is disconnected")

	clusterFlags(fs, &cfg.Cluster)

	fs.DurationVar(&cfg.MemoryReturn.Quiet, "memory-return-quiet", cfg.MemoryReturn.Quiet, "after a burst of work (thousands of users joining at once), once the server has allocated under 1 MiB/s for this `duration`, it collects and gives the memory the burst left back to the kernel (at most every 30 s); 0: never")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", cfg.ShutdownTimeout, "on SIGINT or SIGTERM, time to tell users and flush before connections are cut")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "`level` of logs: debug, info, warn or error")
	fs.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "`format` of logs: text or json")
	fs.StringVar(&cfg.CPUProfile, "cpu-profile", cfg.CPUProfile, "write a CPU profile of the whole run to this `file` (for go tool pprof)")
	fs.StringVar(&cfg.MemProfile, "mem-profile", cfg.MemProfile, "write a heap profile to this `file` when the server stops (for go tool pprof)")
	fs.Usage = func() { printUsage(fs) }
	explainValues(fs)
	return fs
}

// envName is the environment variable that sets the flag called name.
func envName(name string) string {
	return "HUBBUB_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// parseConfig builds the configuration from the defaults, then the environment, then args:
// a flag on the command line wins over its environment variable.
// lookupEnv is os.LookupEnv in production: a variable set to the empty string counts as set, so
// HUBBUB_QUOTE_ADDR= turns the quote service off.
func parseConfig(args []string, lookupEnv func(string) (string, bool), out io.Writer) (Config, error) {
	cfg := defaultConfig()
	// The flag package would print the whole usage after any error, where it scrolls the
	// error away: it is printed only when asked for.
	fs := flagSet(&cfg, io.Discard)
	if path := configPath(args, lookupEnv); path != "" {
		if err := applyFile(fs, path); err != nil {
			return cfg, err
		}
	}
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := envName(f.Name)
		if v, ok := lookupEnv(name); ok {
			if err := f.Value.Set(v); err != nil && envErr == nil {
				envErr = fmt.Errorf("%s=%q: %w", name, v, err)
			}
		}
	})
	if envErr != nil {
		return cfg, envErr
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(out)
			fs.Usage()
			return cfg, err
		}
		return cfg, flagError(err)
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return cfg, cfg.validate()
}

// operators returns the names --operators gives.
func (c *Config) operators() ([]string, error) {
	var out []string
	for _, name := range strings.Split(c.Operators, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if _, err := chat.ParseName(name); err != nil {
			return nil, fmt.Errorf("--operators: %q is not a name: %w", name, err)
		}
		out = append(out, name)
	}
	return out, nil
}

func (c *Config) validate() error {
	var errs []error
	positive := func(name string, v int) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("--%s must be positive, not %d", name, v))
		}
	}
	positive("max-line", c.Line.MaxLine)
	positive("max-queue", c.Line.MaxQueue)
	positive("max-quote", c.Quote.MaxQuote)
	positive("max-rooms-per-user", c.Chat.MaxRoomsPerUser)
	if c.Chat.AnnounceLimit < 0 {
		errs = append(errs, fmt.Errorf("--announce-limit must be 0 (always announce) or more, not %d", c.Chat.AnnounceLimit))
	}
	positive("max-sessions-per-account", c.Chat.MaxSessionsPerAccount)
	switch c.Accounts {
	case "on", "off":
	case "required":
		if c.NoHistory {
			errs = append(errs, errors.New("--accounts required needs the history database, where accounts are kept: drop --no-history"))
		}
	default:
		errs = append(errs, fmt.Errorf("--accounts must be on, required or off, not %q", c.Accounts))
	}
	if _, err := c.operators(); err != nil {
		errs = append(errs, err)
	}
	positive("http-max-header-bytes", c.HTTPMaxHeaderBytes)
	if c.IPv6Prefix < 1 || c.IPv6Prefix > 128 {
		errs = append(errs, fmt.Errorf("--ipv6-prefix must be from 1 to 128 bits, not %d", c.IPv6Prefix))
	}
	if _, err := c.publicHost(); err != nil {
		errs = append(errs, err)
	}
	if c.Chat.Replay < 0 || c.HistoryMaxAge < 0 || c.HistoryMaxRows < 0 {
		errs = append(errs, errors.New("--replay, --history-max-age and --history-max-rows cannot be negative"))
	}
	if c.Line.FloodAfter < 0 || c.Chat.FloodMute < 0 || c.Line.PingInterval < 0 {
		errs = append(errs, errors.New("--flood-after, --flood-mute and --ws-ping-interval cannot be negative"))
	}
	if c.MemoryReturn.Quiet < 0 {
		errs = append(errs, fmt.Errorf("--memory-return-quiet must be 0 (never) or more, not %v", c.MemoryReturn.Quiet))
	}
	if c.Line.MaxQueue < c.Line.MaxLine+256 {
		errs = append(errs, fmt.Errorf("--max-queue (%d) must exceed --max-line (%d) by at least 256", c.Line.MaxQueue, c.Line.MaxLine))
	}
	if c.Line.LineRate < 0 || c.MaxConns < 0 || c.MaxConnsPerIP < 0 {
		errs = append(errs, errors.New("--line-rate, --max-conns and --max-conns-per-ip cannot be negative"))
	}
	for name, d := range map[string]time.Duration{
		"write-timeout": c.Line.WriteTimeout, "quote-idle-timeout": c.Quote.IdleTimeout,
		"echo-idle-timeout": c.Echo.IdleTimeout, "shutdown-timeout": c.ShutdownTimeout,
		"http-idle-timeout": c.HTTPIdleTimeout, "http-timeout": c.HTTPTimeout,
	} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("--%s must be positive, not %v", name, d))
		}
	}
	if _, err := c.exemptPrefixes(); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.logLevel(); err != nil {
		errs = append(errs, err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("--log-format must be text or json, not %q", c.LogFormat))
	}
	errs = append(errs, c.Cluster.validate()...)
	errs = append(errs, c.TLS.validate()...)
	return errors.Join(errs...)
}

func (c *Config) exemptPrefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(c.LimitExempt, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("--limit-exempt: %w", err)
		}
		out = append(out, p)
	}
	return out, nil
}

func (c *Config) logLevel() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return 0, fmt.Errorf("--log-level must be debug, info, warn or error, not %q", c.LogLevel)
	}
	return l, nil
}

// limits returns the connection limits, with --max-conns 0 resolved against the file limit.
func (c *Config) limits() accept.Limits {
	exempt, _ := c.exemptPrefixes() // checked by validate
	max := c.MaxConns
	if max == 0 {
		var rl syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil && rl.Cur > 2*fdReserve {
			max = int(rl.Cur) - fdReserve
		}
	}
	return accept.Limits{MaxConns: max, MaxConnsPerIP: c.MaxConnsPerIP, Exempt: exempt, IPv6Prefix: c.IPv6Prefix}
}

// publicHost returns the host[:port] of --public-url, or "" without one.
func (c *Config) publicHost() (string, error) {
	if c.PublicURL == "" {
		return "", nil
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("--public-url %q: want the page's address, such as https://chat.example.com", c.PublicURL)
	}
	return strings.ToLower(u.Host), nil
}

func printUsage(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprint(w, `hubbub: a chat server for telnet and nc, with the quote and echo services.

Usage:
  hubbub [serve] [flags]   run chat, quote and echo (the default command)
  hubbub bench SCENARIO    load a server and measure it (hubbub bench for the list)
  hubbub config [flags]    print the effective configuration, as a TOML file (secrets masked)
  hubbub account COMMAND   list, show, create, reset-password, delete an account, or make it
                           an operator (hubbub account --help)
  hubbub version           print the version and build information
  hubbub help              print this help

Flags of serve (each can also be set by the environment variable shown, or by its name in the
--config file; a flag beats the environment, which beats the file):
`)
	fs.VisitAll(func(f *flag.Flag) {
		kind, usage := flag.UnquoteUsage(f)
		if e, ok := f.Value.(explainer); ok && kind == "value" {
			kind = e.kind()
		}
		fmt.Fprintf(w, "  --%s %s\n", f.Name, kind)
		fmt.Fprintf(w, "        %s\n        default %q, $%s\n", usage, f.DefValue, envName(f.Name))
	})
}

// dataDir returns the directory of the history database: --data-dir, or the user's data
// directory as the XDG base directory specification has it.
func (c *Config) dataDir() (string, error) {
	if c.DataDir != "" {
		return c.DataDir, nil
	}
	if xdg := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(xdg) {
		return filepath.Join(xdg, "hubbub"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no --data-dir given and no home directory to put history in: %w", err)
	}
	return filepath.Join(home, ".local", "share", "hubbub"), nil
}

// historyPath returns the path of the history database, which also keeps the accounts.
func (c *Config) historyPath() (string, error) {
	dir, err := c.dataDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "hubbub.db"), nil
}

// wsConfig is the WebSocket transport's configuration: the line transport's limits, which
// every client is held to whatever it connects with.
func (c *Config) wsConfig() wsgateway.Config {
	ws := wsgateway.DefaultConfig()
	ws.Limits = c.Line
	// A message is a line and the JSON around it.
	ws.MaxMessage = c.Line.MaxLine + 64
	if host, _ := c.publicHost(); host != "" { // checked by validate
		ws.OriginPatterns = append(ws.OriginPatterns, host)
	}
	for _, o := range strings.Split(c.WSOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			ws.OriginPatterns = append(ws.OriginPatterns, o)
		}
	}
	return ws
}
