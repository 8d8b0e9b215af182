package runstate

import (
	"strings"
	"testing"
)

func TestStderrLine(t *testing.T) {
	long := strings.Repeat("x", 250)
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"sh: 1: cannot open /x: No such file\n", "sh: 1: cannot open /x: No such file"},
		{"+ set -e\n+ cd /requests\nls: /requests/run: No such file or directory\n\n  \n", "ls: /requests/run: No such file or directory"},
		{long, strings.Repeat("x", 200) + "…"},
	} {
		if got := StderrLine(tc.in); got != tc.want {
			t.Errorf("StderrLine(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
