package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Command is one subcommand of a program; E is what the program hands every
// command (its output streams, clock, logger).
type Command[E any] struct {
	// Name is what the user types: "serve", or "license bind" for a
	// command of a group.
	Name string
	// Synopsis is the command line after the program name, e.g.
	// "license bind ID --device DEV [--expire-replaced]"; usage errors and
	// -h print it. Empty: Name alone.
	Synopsis string
	// Summary says in a few words what the command does.
	Summary string
	Run     func(ctx context.Context, env E, args []string) error
}

// line is the synopsis of c, falling back to its name.
func (c *Command[E]) line() string {
	if c.Synopsis != "" {
		return c.Synopsis
	}
	return c.Name
}

// Program is a binary made of subcommands: tollgate-server, tollgate-agent,
// tollgatectl. Its command table is Commands, in the order help lists them.
type Program[E any] struct {
	Name     string
	Commands []Command[E]
}

func (p *Program[E]) find(name string) *Command[E] {
	for i := range p.Commands {
		if p.Commands[i].Name == name {
			return &p.Commands[i]
		}
	}
	return nil
}

// Main dispatches args (without the program name) to a subcommand and
// returns the exit status. -h, --help and help print the command list (or
// one command's synopsis and flags) to stdout and exit 0; no command, an
// unknown command or a command line that does not parse print one error
// line and the synopsis to stderr and exit 2, with a suggestion for a
// mistyped command; any other error is one line as Report prints it.
func (p *Program[E]) Main(ctx context.Context, env E, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		p.Usage(stderr)
		return ExitUsage
	}
	if isHelp(args[0]) || args[0] == "help" {
		if args[0] == "help" && len(args) > 1 {
			if c, _ := p.lookup(args[1:]); c != nil {
				fmt.Fprintf(stdout, "usage: %s %s\n", p.Name, c.line())
				return ExitOK
			}
		}
		p.Usage(stdout)
		return ExitOK
	}
	c, rest := p.lookup(args)
	if c == nil {
		return p.unknown(args, stdout, stderr)
	}
	err := c.Run(ctx, env, rest)
	var h *HelpError
	if errors.As(err, &h) {
		fmt.Fprintf(stdout, "usage: %s %s\n", p.Name, c.line())
		if c.Summary != "" {
			fmt.Fprintf(stdout, "\n%s\n", c.Summary)
		}
		if h.Flags != "" {
			fmt.Fprintf(stdout, "\nflags:\n%s", h.Flags)
		}
		return ExitOK
	}
	var u *UsageError
	if errors.As(err, &u) {
		fmt.Fprintf(stderr, "error: usage: %s\nusage: %s %s\n", oneLine(u.Msg), p.Name, c.line())
		return ExitUsage
	}
	return Report(stderr, err)
}

// lookup finds the command args name, the longest name first ("license
// bind" before "license"), and returns it with the arguments after it.
func (p *Program[E]) lookup(args []string) (*Command[E], []string) {
	for n := min(len(args), 2); n > 0; n-- {
		if c := p.find(strings.Join(args[:n], " ")); c != nil {
			return c, args[n:]
		}
	}
	return nil, nil
}

// unknown answers a command line that names no command: a group alone
// ("license") lists its verbs; anything else is a usage error with the
// nearest command name when one is close enough to be a typo.
func (p *Program[E]) unknown(args []string, stdout, stderr io.Writer) int {
	group := p.group(args[0])
	if len(group) > 0 && (len(args) == 1 || isHelp(args[1])) {
		w, code := stderr, ExitUsage
		if len(args) > 1 {
			w, code = stdout, ExitOK
		}
		fmt.Fprintf(w, "usage: %s %s VERB [flags]\n\n", p.Name, args[0])
		for _, c := range group {
			fmt.Fprintf(w, "  %s\n", c.line())
		}
		return code
	}
	typed := args[0]
	if len(group) > 0 {
		typed = args[0] + " " + args[1]
	}
	msg := fmt.Sprintf("unknown command %q", typed)
	if s := p.suggest(typed); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	fmt.Fprintf(stderr, "error: usage: %s\nusage: %s COMMAND [flags]   (%s -h lists the commands)\n", msg, p.Name, p.Name)
	return ExitUsage
}

// group returns the commands named "NAME VERB", sorted.
func (p *Program[E]) group(name string) []*Command[E] {
	var out []*Command[E]
	for i := range p.Commands {
		if strings.HasPrefix(p.Commands[i].Name, name+" ") {
			out = append(out, &p.Commands[i])
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// suggest returns the command name (or group) nearest to typed, or "" when
// none is within MaxSuggestDistance edits.
func (p *Program[E]) suggest(typed string) string {
	best, bestD := "", MaxSuggestDistance+1
	consider := func(name string) {
		if d := editDistance(typed, name); d < bestD || (d == bestD && name < best) {
			best, bestD = name, d
		}
	}
	for _, c := range p.Commands {
		consider(c.Name)
		if g, _, ok := strings.Cut(c.Name, " "); ok && !strings.Contains(typed, " ") {
			consider(g)
		}
	}
	return best
}

// MaxSuggestDistance is how many edits (insertions, deletions,
// substitutions) a mistyped command may be from a real one for "did you
// mean" to name it.
const MaxSuggestDistance = 2

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func isHelp(s string) bool { return s == "-h" || s == "--help" || s == "-help" }

// Usage lists the subcommands with their synopses.
func (p *Program[E]) Usage(w io.Writer) {
	cmds := make([]*Command[E], len(p.Commands))
	width := 0
	for i := range p.Commands {
		cmds[i] = &p.Commands[i]
		width = max(width, len(cmds[i].Name))
	}
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].Name < cmds[j].Name })
	var b strings.Builder
	fmt.Fprintf(&b, "usage: %s COMMAND [flags]\n\ncommands:\n", p.Name)
	for _, c := range cmds {
		rest := strings.TrimSpace(strings.TrimPrefix(c.line(), c.Name))
		if c.Summary != "" && rest == "" {
			rest = c.Summary
		} else if c.Summary != "" {
			rest += "   (" + c.Summary + ")"
		}
		fmt.Fprintf(&b, "  %-*s  %s\n", width, c.Name, rest)
	}
	fmt.Fprintf(&b, "\nRun %s COMMAND -h for the flags of one command.\n", p.Name)
	io.WriteString(w, b.String())
}
