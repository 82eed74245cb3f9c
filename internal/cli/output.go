package cli

import (
	"errors"
	"fmt"
	"text/tabwriter"
)

// A command prints its result line after line and checks once whether it
// reached the terminal or the pipe: every writer here keeps the first write
// error and drops what follows, as bufio.Writer does, and Main reports it
// (a closed pipe, a full disk) as the command's failure.

// printf writes part of the command's result to standard output.
func (g *globals) printf(format string, a ...any) {
	if g.outErr == nil {
		_, g.outErr = fmt.Fprintf(g.stdout, format, a...)
	}
}

// note tells the user on standard error what is going on: progress, what
// was done, what to do next. With standard error gone there is nobody left
// to tell, so a failed write changes nothing.
func (g *globals) note(format string, a ...any) {
	_, _ = fmt.Fprintf(g.stderr, format, a...)
}

// table prints aligned columns to standard output.
type table struct {
	tw  *tabwriter.Writer
	err error
}

func (g *globals) table() *table {
	return &table{tw: tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)}
}

func (t *table) printf(format string, a ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.tw, format, a...)
	}
}

func (t *table) println(a ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintln(t.tw, a...)
	}
}

// flush writes the table out and reports the first error of any write.
func (t *table) flush() error { return errors.Join(t.err, t.tw.Flush()) }
