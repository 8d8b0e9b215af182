package runstate

import (
	"fmt"
	"regexp"
	"strings"
)

// ShellQuote quotes s as one word of a POSIX shell line: every value the plugin interpolates into
// a script or an exec'd command line (run IDs, paths, names, the in-pod contract's words) passes
// through it, so no value can end its quotes, whatever it holds.
func ShellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// runIDExpr is the one shape of a run ID: "<unix seconds>-<4 hex digits>". It has no '_', so a run
// ID is found again inside <harness>_<run>_<workload>_<stack> folder names.
const runIDExpr = `[0-9]{10}-[0-9a-f]{4}`

// RunIDShape describes a run ID for error messages.
const RunIDShape = "<unix seconds>-<4 hex digits>, like 1795740000-ab12"

var runIDPattern = regexp.MustCompile(`^` + runIDExpr + `$`)

// IsRunID tells whether s has the shape of a run ID.
func IsRunID(s string) bool { return runIDPattern.MatchString(s) }

// ValidateRunID returns an error naming the expected shape when s is not a run ID.
func ValidateRunID(s string) error {
	if IsRunID(s) {
		return nil
	}
	return fmt.Errorf("%q is not a run ID: want %s", s, RunIDShape)
}
