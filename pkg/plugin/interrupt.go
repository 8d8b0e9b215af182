package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/llmdbench/kubectl-llmdbench/pkg/cluster"
)

// ExitInterrupted is the exit code of a command stopped by Ctrl-C (128 + SIGINT), as a shell has it.
const ExitInterrupted = 130

// Interrupted says, when Ctrl-C stopped a command, what it cleaned up and what still runs.
type Interrupted struct {
	// Cleaned is what the command did or undid before stopping ("removed run X").
	Cleaned string
	// Running is what goes on in the cluster ("nothing runs", "launcher pod P goes on").
	Running string
	// Err is the error the cancellation caused.
	Err error
}

func (e *Interrupted) Error() string {
	return "interrupted: " + e.Cleaned + "; " + e.Running
}

func (e *Interrupted) Unwrap() error { return e.Err }

// defaultInterrupted describes a command that creates nothing (or removes what it created
// before returning): nothing is left.
var defaultInterrupted = Interrupted{Cleaned: "nothing was left behind", Running: "nothing runs"}

// MapInterrupt turns the error of a command whose context was cancelled (Ctrl-C) into an
// ExitError 130 after printing one line on errOut: what was cleaned up and what still runs. A
// command that explained itself already (an ExitError) is left alone, and so is every error
// while ctx is live. The context error itself is never shown ("context canceled").
func MapInterrupt(ctx context.Context, errOut io.Writer, err error) error {
	if err == nil || ctx.Err() == nil {
		return err
	}
	var exit *ExitError
	if errors.As(err, &exit) {
		return err
	}
	in := defaultInterrupted
	var own *Interrupted
	if errors.As(err, &own) {
		in = *own
	}
	fmt.Fprintf(errOut, "Interrupted: %s; %s.\n", strings.TrimSuffix(in.Cleaned, "."), strings.TrimSuffix(in.Running, "."))
	return &ExitError{Code: ExitInterrupted, Err: err}
}

// launchInterrupted describes a launch stopped by Ctrl-C after abandon: what was created and
// removed (removeErr when removing failed), or kept with --keep-on-failure. It returns cause as
// it is when ctx is live.
func launchInterrupted(ctx context.Context, runID, namespace string, created cluster.Created, kept bool, removeErr error, cause error) error {
	if ctx.Err() == nil {
		return cause
	}
	in := &Interrupted{Err: cause}
	what := describeCreated(created)
	deleteHint := fmt.Sprintf("kubectl llmdbench delete %s -n %s --force", runID, namespace)
	switch {
	case what == "":
		in.Cleaned, in.Running = "nothing was created", "nothing runs"
	case kept:
		in.Cleaned = fmt.Sprintf("kept run %s (%s, --keep-on-failure)", runID, what)
		in.Running = "its launchers may still run; remove them with: " + deleteHint
	case removeErr != nil:
		in.Cleaned = fmt.Sprintf("could not remove run %s (%s): %s", runID, what, cluster.OneLine(removeErr))
		in.Running = "remove it with: " + deleteHint
	default:
		in.Cleaned = fmt.Sprintf("removed run %s (%s)", runID, what)
		in.Running = "nothing runs"
	}
	if created.PVC != "" {
		in.Running += fmt.Sprintf(" (PVC %s stays)", created.PVC)
	}
	return in
}

func describeCreated(c cluster.Created) string {
	var parts []string
	if c.ConfigMap != "" {
		parts = append(parts, "its ConfigMap")
	}
	if c.Job != "" {
		parts = append(parts, "its launcher Job")
	}
	if n := len(c.Pods); n > 0 {
		parts = append(parts, fmt.Sprintf("%d launcher pod(s)", n))
	}
	return strings.Join(parts, " and ")
}
