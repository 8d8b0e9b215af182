package runstate

import "strings"

// maxStderrLine bounds the pod's words quoted in an error.
const maxStderrLine = 200

// StderrLine is the last non-empty line of an in-pod command's stderr, the one that says why it
// failed, cut at 200 bytes: an error stays one line whatever the pod printed before.
func StderrLine(stderr string) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	line := strings.TrimSpace(lines[len(lines)-1])
	if len(line) > maxStderrLine {
		line = line[:maxStderrLine] + "…"
	}
	return line
}
