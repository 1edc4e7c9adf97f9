// Package cli holds the conventions every Tollgate command shares
// (docs/api.md): errors as one line "error: CODE: message" on stderr with
// exit status 1 (2 for usage errors, followed by the command's synopsis),
// help on stdout, -o table|json|csv on listings, and flags that fall back
// to TOLLGATE_* environment variables.
package cli

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
)

// Exit statuses.
const (
	ExitOK    = 0
	ExitError = 1
	ExitUsage = 2
)

// Error is a command failure with a stable machine-readable code.
type Error struct {
	Code string // snake_case, e.g. "not_found", "invalid_argument"
	Err  error
}

func (e *Error) Error() string { return e.Code + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code.
func Errorf(code, format string, args ...any) error {
	return &Error{Code: code, Err: fmt.Errorf(format, args...)}
}

// UsageError reports a command line that does not parse; it exits 2.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Usagef returns a *UsageError.
func Usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// HelpError is what Parse returns for -h on a flag set made by Flags: the
// command's flag defaults, for Program.Main to print on stdout after the
// synopsis. It matches flag.ErrHelp.
type HelpError struct{ Flags string }

func (e *HelpError) Error() string { return flag.ErrHelp.Error() }

// Is makes errors.Is(err, flag.ErrHelp) hold.
func (e *HelpError) Is(target error) bool { return target == flag.ErrHelp }

// Report prints err as docs/api.md prescribes and returns the exit status.
// Errors without a code are reported as "internal".
func Report(stderr io.Writer, err error) int {
	if err == nil {
		return ExitOK
	}
	var h *HelpError
	if errors.As(err, &h) {
		fmt.Fprintf(stderr, "flags:\n%s", h.Flags)
		return ExitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	var u *UsageError
	if errors.As(err, &u) {
		fmt.Fprintf(stderr, "error: usage: %s\n", oneLine(u.Msg))
		return ExitUsage
	}
	var e *Error
	if errors.As(err, &e) {
		fmt.Fprintf(stderr, "error: %s: %s\n", e.Code, oneLine(e.Err.Error()))
		return ExitError
	}
	fmt.Fprintf(stderr, "error: internal: %s\n", oneLine(err.Error()))
	return ExitError
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// NewFlagSet returns a flag set that reports parse errors as usage errors
// rather than exiting; the flag package itself prints the error and the
// flag list to stderr. Commands run by a Program use Flags instead.
func NewFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// quiet is the output of a flag set made by Flags: the flag package prints
// nothing itself, so an error is reported once, by Report.
type quiet struct{}

func (quiet) Write(p []byte) (int, error) { return len(p), nil }

// Flags returns a flag set that prints nothing: a parse error comes back
// as a *UsageError (one line, then the synopsis) and -h as a *HelpError
// carrying the flag list for stdout.
func Flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(quiet{})
	fs.Usage = func() {}
	return fs
}

// Parse parses args into fs, turning errors into usage errors. A flag left
// unset takes the value of its environment variable, if envs names one.
func Parse(fs *flag.FlagSet, args []string, envs map[string]string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			if _, ok := fs.Output().(quiet); ok {
				var b strings.Builder
				fs.SetOutput(&b)
				fs.PrintDefaults()
				fs.SetOutput(quiet{})
				return &HelpError{Flags: b.String()}
			}
			return err
		}
		return &UsageError{Msg: err.Error()}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for name, env := range envs {
		if fs.Lookup(name) == nil {
			continue // a shared env map may name flags this command lacks
		}
		if v, ok := os.LookupEnv(env); ok && !set[name] {
			if err := fs.Set(name, v); err != nil {
				return Usagef("%s=%q: %v", env, v, err)
			}
		}
	}
	return nil
}

// Format is an output format for listings and show commands.
type Format string

// The output formats.
const (
	Table Format = "table"
	JSON  Format = "json"
	CSV   Format = "csv"
)

// Set implements flag.Value.
func (f *Format) Set(s string) error {
	switch Format(s) {
	case Table, JSON, CSV:
		*f = Format(s)
		return nil
	}
	return fmt.Errorf("output format must be table, json or csv, not %q", s)
}

func (f *Format) String() string {
	if *f == "" {
		return string(Table)
	}
	return string(*f)
}

// OutputFlag registers -o on fs, defaulting to table.
func OutputFlag(fs *flag.FlagSet) *Format {
	f := Table
	fs.Var(&f, "o", "output format: table, json or csv")
	return &f
}

// Render writes a listing: doc as one JSON document for json, or the header
// and rows for table and csv.
func Render(w io.Writer, f Format, doc any, header []string, rows [][]string) error {
	switch f {
	case JSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(doc)
	case CSV:
		cw := csv.NewWriter(w)
		if err := cw.Write(header); err != nil {
			return err
		}
		if err := cw.WriteAll(rows); err != nil {
			return err
		}
		return cw.Error()
	default:
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(header, "\t"))
		for _, r := range rows {
			fmt.Fprintln(tw, strings.Join(r, "\t"))
		}
		return tw.Flush()
	}
}
