package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// A configuration file is TOML with one top-level key per flag, named as the flag is:
//
//	chat-addr = ":8000"
//	max-queue = 262144
//	write-timeout = "10s"
//	limit-exempt = ["127.0.0.0/8", "::1/128"]   # or one comma-separated string
//
// Its settings come between the defaults and the environment: flag > env > file > default.

// configPath finds --config in args, or else HUBBUB_CONFIG, before the flags are parsed.
func configPath(args []string, lookupEnv func(string) (string, bool)) string {
	for i, a := range args {
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "config" {
			continue
		}
		if hasValue {
			return value
		}
		if i+1 < len(args) {
			return args[i+1]
		}
	}
	v, _ := lookupEnv(envName("config"))
	return v
}

// applyFile sets the flags of fs from the TOML file at path. An unknown key or a bad value is
// an error that names the key.
func applyFile(fs *flag.FlagSet, path string) error {
	var settings map[string]any
	md, err := toml.DecodeFile(path, &settings)
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	for _, key := range md.Keys() {
		if len(key) != 1 {
			continue // inside a table: reported with the table's key below
		}
		name := key[0]
		f := fs.Lookup(name)
		if f == nil || name == "config" {
			return fmt.Errorf("config %s: unknown setting %q (hubbub --help lists them)", path, name)
		}
		value, err := tomlValue(settings[name])
		if err != nil {
			return fmt.Errorf("config %s: %s: %w", path, name, err)
		}
		if err := f.Value.Set(value); err != nil {
			shown := fmt.Sprint(settings[name])
			if _, ok := settings[name].(string); ok {
				shown = strconv.Quote(shown)
			}
			return fmt.Errorf("config %s: %s = %s: %w", path, name, shown, err)
		}
	}
	return nil
}

// tomlValue turns a TOML value into the text its flag parses.
func tomlValue(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case int64, float64, bool:
		return fmt.Sprint(v), nil
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			s, ok := x.(string)
			if !ok {
				return "", fmt.Errorf("a list must hold strings")
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	default:
		return "", fmt.Errorf("a setting is a string, a number, a boolean or a list of strings, not %T", v)
	}
}

// secretFlags are printed masked by `hubbub config`.
var secretFlags = map[string]bool{"oper-password": true}

// printConfig writes the settings of fs as a TOML file that gives the same configuration.
func printConfig(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintln(w, "# hubbub's effective configuration: defaults, then the file, the environment and the flags")
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "config" {
			return
		}
		var value string
		switch v := f.Value.(flag.Getter).Get().(type) {
		case string:
			if secretFlags[f.Name] && v != "" {
				v = "********"
			}
			value = strconv.Quote(v)
		case time.Duration:
			value = strconv.Quote(v.String())
		default:
			value = fmt.Sprint(v)
		}
		fmt.Fprintf(w, "%s = %s\n", f.Name, value)
	})
}
