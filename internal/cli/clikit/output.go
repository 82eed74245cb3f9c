package clikit

import (
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"
)

// A command prints its result line after line and checks once whether it
// reached the terminal or the pipe: every writer here keeps the first write
// error and drops what follows, as bufio.Writer does, and Main reports it
// (a closed pipe, a full disk) as the command's failure.

// Printf writes part of the command's result to standard output.
func (g *Globals) Printf(format string, a ...any) {
	if g.outErr == nil {
		_, g.outErr = fmt.Fprintf(g.Stdout, format, a...)
	}
}

// Note tells the user on standard error what is going on: progress, what
// was done, what to do next. With standard error gone there is nobody left
// to tell, so a failed write changes nothing.
func (g *Globals) Note(format string, a ...any) {
	_, _ = fmt.Fprintf(g.Stderr, format, a...)
}

// PrintJSON writes v, indented, as the command's whole result.
func (g *Globals) PrintJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(g.Stdout, string(b))
	return err
}

// Table prints aligned columns to standard output.
type Table struct {
	tw  *tabwriter.Writer
	err error
}

// Table starts a table on standard output; Flush writes it out.
func (g *Globals) Table() *Table {
	return &Table{tw: tabwriter.NewWriter(g.Stdout, 0, 4, 2, ' ', 0)}
}

// Printf adds to the table; tabs separate the columns.
func (t *Table) Printf(format string, a ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.tw, format, a...)
	}
}

// Println adds a row of the given cells.
func (t *Table) Println(a ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintln(t.tw, a...)
	}
}

// Flush writes the table out and reports the first error of any write.
func (t *Table) Flush() error { return errors.Join(t.err, t.tw.Flush()) }
