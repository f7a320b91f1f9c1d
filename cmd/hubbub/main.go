// Command hubbub runs the hubbub chat server and its quote and echo services.
//
//	hubbub [serve] [flags]   run the services (see hubbub --help)
//	hubbub config [flags]    print the effective configuration
//	hubbub account COMMAND   administer accounts (hubbub account --help)
//	hubbub version           print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the command line args and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	if cmd == "serve" {
		for _, a := range args {
			if a == "-h" || a == "-help" || a == "--help" {
				cmd = "help"
			}
		}
	}
	switch cmd {
	case "bench":
		return bench(args, stdout, stderr)
	case "account":
		return account(args, os.Stdin, stdout, stderr)
	case "serve":
		return serve(args, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, versionString())
		return 0
	case "config":
		cfg, err := parseConfig(args, os.LookupEnv, stdout)
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		if err != nil {
			printConfigError(stderr, err)
			return 2
		}
		// The directory the server would use, not "" for "the default": whoever reads this
		// wants to know where the history is.
		if dir, err := cfg.dataDir(); err == nil {
			cfg.DataDir = dir
		}
		printConfig(stdout, flagSet(&cfg, io.Discard))
		return 0
	case "help":
		cfg := defaultConfig()
		flagSet(&cfg, stdout).Usage()
		return 0
	default:
		fmt.Fprintf(stderr, "hubbub: unknown command %q (try hubbub --help)\n", cmd)
		return 2
	}
}

func serve(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseConfig(args, os.LookupEnv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		printConfigError(stderr, err)
		return 2
	}
	var level slog.LevelVar
	log := newLogger(cfg, stderr, &level)
	// First, so that whoever reads the log knows which process to signal or measure.
	log.Info("starting", "pid", os.Getpid(), "version", versionString())
	if cfg.CPUProfile != "" {
		stop, err := startCPUProfile(cfg.CPUProfile)
		if err != nil {
			log.Error("cannot profile", "err", err)
			return 1
		}
		defer stop()
	}

	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)
	hangups := make(chan os.Signal, 1)
	signal.Notify(hangups, syscall.SIGHUP)
	defer signal.Stop(hangups)

	m := &Main{cfg: cfg, log: log, level: &level, abort: make(chan struct{})}
	if cfg.PIDFile != "" {
		// Before the listeners open: whoever sees a service answer finds the file.
		if err := writePIDFile(cfg.PIDFile); err != nil {
			log.Error("cannot start", "err", err)
			return 1
		}
		defer func() {
			if err := os.Remove(cfg.PIDFile); err != nil {
				log.Warn("cannot remove the pid file", "err", err)
			}
		}()
	}
	// Run may wait minutes for NATS: a signal meanwhile gives the start up (m.abort).
	started, watched := make(chan struct{}), make(chan struct{})
	interrupted := make(chan os.Signal, 1)
	go func() {
		defer close(watched)
		select {
		case sig := <-signals:
			interrupted <- sig
			close(m.abort)
		case <-started:
		}
	}()
	err = m.Run()
	close(started)
	<-watched
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	select {
	case sig := <-interrupted: // it came as Run finished: shut down as if it came now
		signals <- sig
	default:
	}
	code := 0
wait:
	for {
		select {
		case <-hangups:
			// The configuration is read again as at start: file, environment, flags.
			next, err := parseConfig(args, os.LookupEnv, io.Discard)
			if err != nil {
				log.Error("reload failed, the running configuration stays", "err", err)
				continue
			}
			m.Reload(next)
		case sig := <-signals:
			log.Info("shutting down", "signal", sig.String(), "timeout", cfg.ShutdownTimeout)
			break wait
		case err := <-m.Failed():
			log.Error("service failed, shutting down", "err", err)
			code = 1
			break wait
		}
	}
	if cfg.MemProfile != "" {
		// Taken before shutdown, while every connection is still open.
		if err := writeHeapProfile(cfg.MemProfile); err != nil {
			log.Error("cannot write heap profile", "err", err)
		}
	}
	go func() {
		// A second signal means the operator does not want to wait.
		sig := <-signals
		log.Warn("second signal, exiting now", "signal", sig.String())
		if cfg.PIDFile != "" {
			os.Remove(cfg.PIDFile)
		}
		os.Exit(1)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := m.Shutdown(ctx); err != nil {
		log.Warn("shutdown cut short: remaining connections were closed", "err", err)
	}
	log.Info("stopped")
	return code
}

// printConfigError says what is wrong with the configuration in a few lines, and where to
// read more: the whole usage would scroll the error out of sight.
func printConfigError(stderr io.Writer, err error) {
	fmt.Fprintf(stderr, "hubbub: %v\nhubbub --help lists every flag and the form of its value.\n", err)
}

// writePIDFile writes the process ID to path, whole or not at all: whoever reads it the
// moment it appears finds a number, not a partial write.
func writePIDFile(path string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, fmt.Appendf(nil, "%d\n", os.Getpid()), 0o644); err != nil {
		return fmt.Errorf("pid file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("pid file: %w", err)
	}
	return nil
}

func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	return nil
}

func versionString() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "hubbub (no build information)"
	}
	s := fmt.Sprintf("hubbub %s %s", info.Main.Version, info.GoVersion)
	for _, kv := range info.Settings {
		switch kv.Key {
		case "vcs.revision", "vcs.time", "vcs.modified":
			s += fmt.Sprintf(" %s=%s", kv.Key, kv.Value)
		}
	}
	return s
}
