package slashcmd

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
)

// PanicError reports a handler that panicked. Execute recovers so that one
// buggy subcommand cannot take the whole plugin down; the stack is kept for
// the log but left out of Error, which may be shown to the user.
type PanicError struct {
	Path  []string
	Value any
	Stack []byte
}

// Error names the command and the panic value, without the stack.
func (e *PanicError) Error() string {
	return fmt.Sprintf("internal error in %q: %v", strings.Join(e.Path, " "), e.Value)
}

// Execute parses line and runs the command for caller. Parse errors are
// *UsageError; a pure group answers with its usage and the bare trigger with
// Help. Handler errors are returned as they are.
func (t *Tree) Execute(ctx context.Context, line string, caller Caller) (resp *Response, err error) {
	cmd, inv, err := t.Parse(line)
	if err != nil {
		return nil, err
	}
	inv.Caller = caller
	if cmd.Run == nil {
		if cmd == t.Root {
			return &Response{Text: t.Help()}, nil
		}
		return &Response{Text: t.Usage(inv.Path)}, nil
	}
	defer func() {
		if r := recover(); r != nil {
			resp, err = nil, &PanicError{Path: inv.Path, Value: r, Stack: debug.Stack()}
		}
	}()
	return cmd.Run(ctx, inv)
}

// runHelp is the built-in help command; Parse has already resolved its
// arguments to a canonical command path.
func (t *Tree) runHelp(_ context.Context, inv *Invocation) (*Response, error) {
	if len(inv.Args) == 0 {
		return &Response{Text: t.Help()}, nil
	}
	return &Response{Text: t.Usage(inv.Args)}, nil
}
