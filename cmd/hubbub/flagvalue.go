package main

import (
	"errors"
	"flag"
	"fmt"
	"regexp"
	"time"
)

// The flag package says only "parse error" when a value does not parse, and the same words
// come back for a bad environment variable or configuration file setting: explainValues wraps
// each flag's value so that the error says what form the value takes.

// explained is a flag value whose Set error names the form it wants.
type explained struct {
	flag.Value
	typ  string // what UnquoteUsage would have called it: duration, int, float
	want string // the form it takes, for errors
}

// explainer is what printUsage asks of a wrapped value.
type explainer interface{ kind() string }

func (v explained) Set(s string) error {
	if err := v.Value.Set(s); err != nil {
		return fmt.Errorf("want %s", v.want)
	}
	return nil
}

func (v explained) Get() any       { return v.Value.(flag.Getter).Get() }
func (v explained) kind() string   { return v.typ }
func (v explained) String() string { return v.Value.String() }

// explainedBool keeps a boolean flag usable without a value (--pprof).
type explainedBool struct{ explained }

func (explainedBool) IsBoolFlag() bool { return true }

// explainValues wraps every flag of fs whose value can fail to parse.
func explainValues(fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		switch f.Value.(flag.Getter).Get().(type) {
		case time.Duration:
			f.Value = explained{f.Value, "duration", "a duration such as 10s, 500ms or 1m30s"}
		case int:
			f.Value = explained{f.Value, "int", "a whole number such as 32"}
		case float64:
			f.Value = explained{f.Value, "float", "a number such as 2.5"}
		case bool:
			f.Value = explainedBool{explained{f.Value, "", "true or false"}}
		}
	})
}

// flagErrors are the flag package's parse errors, and how to say each.
var flagErrors = []struct {
	re  *regexp.Regexp
	say func(m []string) string
}{
	{regexp.MustCompile(`^invalid (?:boolean )?value (".*") for (?:flag )?-(\S+): (.*)$`),
		func(m []string) string { return fmt.Sprintf("--%s %s: %s", m[2], m[1], m[3]) }},
	{regexp.MustCompile(`^flag provided but not defined: -+(.*)$`),
		func(m []string) string { return "unknown flag --" + m[1] }},
	{regexp.MustCompile(`^flag needs an argument: -+(.*)$`),
		func(m []string) string { return "--" + m[1] + " needs a value" }},
}

// flagError rewords the flag package's parse errors in the words --help uses: --name, the
// value, and what was wanted.
func flagError(err error) error {
	for _, e := range flagErrors {
		if m := e.re.FindStringSubmatch(err.Error()); m != nil {
			return errors.New(e.say(m))
		}
	}
	return err
}
