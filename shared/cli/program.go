package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Command is one subcommand of a program; E is what the program hands every
// command (its output streams, clock, logger).
type Command[E any] struct {
	Summary string
	Run     func(ctx context.Context, env E, args []string) error
}

// Program is a binary made of subcommands: tollgate-server, tollgate-agent,
// tollgatectl.
type Program[E any] struct {
	Name     string
	commands map[string]Command[E]
}

// Register adds a subcommand; registering a name twice is a programming
// error and panics at start.
func (p *Program[E]) Register(name string, c Command[E]) {
	if p.commands == nil {
		p.commands = map[string]Command[E]{}
	}
	if _, dup := p.commands[name]; dup {
		panic("cli: command " + name + " registered twice")
	}
	p.commands[name] = c
}

// Run dispatches args (without the program name) to a subcommand and
// returns the exit status: usage with no command (2) or help (0), a usage
// error for an unknown command, else what the command's error reports.
func (p *Program[E]) Run(ctx context.Context, env E, args []string, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		p.Usage(stderr)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	c, ok := p.commands[args[0]]
	if !ok {
		p.Usage(stderr)
		return Report(stderr, Usagef("unknown command %q", args[0]))
	}
	return Report(stderr, c.Run(ctx, env, args[1:]))
}

// Usage lists the subcommands with their summaries.
func (p *Program[E]) Usage(w io.Writer) {
	names := make([]string, 0, len(p.commands))
	width := 0
	for n := range p.commands {
		names = append(names, n)
		width = max(width, len(n))
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "usage: %s COMMAND [flags]\n\ncommands:\n", p.Name)
	for _, n := range names {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, n, p.commands[n].Summary)
	}
	fmt.Fprintf(&b, "\nRun %s COMMAND -h for the flags of one command.\n", p.Name)
	io.WriteString(w, b.String())
}
