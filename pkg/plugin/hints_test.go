package plugin

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/llmdbench/kubectl-llmdbench/pkg/cluster"
	"github.com/llmdbench/kubectl-llmdbench/pkg/config"
	"github.com/llmdbench/kubectl-llmdbench/pkg/loadgen"
	"github.com/llmdbench/kubectl-llmdbench/pkg/results"
	"github.com/llmdbench/kubectl-llmdbench/pkg/transfer"
)

// Each capability sentinel gets its hint, written out here by hand, and only on a command that
// has every flag the hint names.
func TestEachSentinelGetsItsHint(t *testing.T) {
	want := map[error]string{
		config.ErrTemplate:                        "or run a built-in config with --preset NAME",
		config.ErrUnknownWorkload:                 "pass one of them to --workload",
		config.ErrNoStackName:                     "set it or pass --stack-name",
		config.ErrNoModel:                         "set it or pass --model",
		config.ErrNoNamespace:                     "set it or pass -n/--namespace",
		config.ErrNoResultsPVC:                    "set it or pass --pvc",
		config.ErrNoImage:                         "set it or pass --image",
		config.ErrUnknownHarness:                  "or pass --harness",
		config.ErrNoEndpoint:                      "pass --base-url URL or let the gateway be discovered (--gateway NAME)",
		config.ErrSweepRatesAndConcurrency:        "pass --rates or --concurrency, not both",
		config.ErrSweepPoissonWithoutRates:        "--poisson shapes the arrivals of --rates: add --rates",
		config.ErrSweepStageDurationWithoutRates:  "--stage-duration applies to --rates stages; with --concurrency use --requests-per-stage",
		config.ErrSweepRequestsWithoutConcurrency: "--requests-per-stage applies to --concurrency stages; with --rates use --stage-duration",
		config.ErrSweepStageDuration:              "raise --stage-duration",
		config.ErrSweepRequestsPerStage:           "check --requests-per-stage",
		config.ErrSweepRate:                       "check --rates",
		config.ErrSweepConcurrency:                "check --concurrency",
		config.ErrSweepOneLevel:                   "pass one value to --rates or --concurrency",
		config.ErrSweepNeedsPoisson:               "add --poisson",
		config.ErrNoGateway:                       "pass --gateway NAME or --base-url URL",
		cluster.ErrNoGatewayName:                  "pass --gateway NAME or --base-url URL",
		cluster.ErrGatewayNotFound:                "pass --gateway NAME or --base-url URL",
		cluster.ErrGatewayAmbiguous:               "pass --base-url to choose one",
		cluster.ErrGatewayUnreadable:              "pass --base-url to skip discovery",
		cluster.ErrReaderPod:                      "choose its image with --reader-image",
		cluster.ErrNoResultsPVC:                   "pass --pvc NAME",
		cluster.ErrLaunchTimeout:                  "raise --launch-timeout if the image is still pulling",
		results.ErrUnknownStat:                    "check --stat",
		results.ErrSLO:                            "check --slo",
		transfer.ErrCompression:                   "check --compress",
		loadgen.ErrBaseURL:                        "or pass --base-url URL",
	}
	if len(hints) != len(want) {
		t.Errorf("the table has %d hints, the test expects %d", len(hints), len(want))
	}
	flagInText := regexp.MustCompile(`--([a-z][a-z-]*)|(?:^|\s)-([a-z])/`)
	for _, h := range hints {
		text, ok := want[h.err]
		if !ok {
			t.Errorf("hint for %q is not expected", h.err)
			continue
		}
		// The flags the text names are the flags the entry checks for.
		var named []string
		for _, m := range flagInText.FindAllStringSubmatch(text, -1) {
			if m[1] != "" {
				named = append(named, m[1])
			}
		}
		if !sameSet(named, h.flags) {
			t.Errorf("%q: the text names %v, the entry checks %v", h.err, named, h.flags)
		}
		cmd := &cobra.Command{Use: "x"}
		for _, f := range h.flags {
			cmd.Flags().String(f, "", "")
		}
		err := withHint(cmd, fmt.Errorf("reading: %w", h.err))
		if got := "reading: " + h.err.Error() + "; " + text; err.Error() != got {
			t.Errorf("got %q\nwant %q", err, got)
		}
		if !errors.Is(err, h.err) {
			t.Errorf("%q: the hint lost the sentinel", err)
		}
		// A command without one of the flags points at none of them.
		if len(h.flags) > 0 {
			bare := &cobra.Command{Use: "y"}
			for _, f := range h.flags[1:] {
				bare.Flags().String(f, "", "")
			}
			if err := withHint(bare, h.err); err != h.err {
				t.Errorf("a command without --%s got %q", h.flags[0], err)
			}
		}
	}
}

func sameSet(a, b []string) bool {
	seen := map[string]int{}
	for _, s := range a {
		seen[s] |= 1
	}
	for _, s := range b {
		seen[s] |= 2
	}
	for _, v := range seen {
		if v != 3 {
			return false
		}
	}
	return true
}

// Every hint can be given: some command of the tree has all of its flags. A renamed flag
// fails here instead of silently dropping the hint.
func TestEveryHintHasACommand(t *testing.T) {
	root := NewCmdRoot(genericiooptions.NewTestIOStreamsDiscard(), BuildInfo{})
	var cmds []*cobra.Command
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		cmds = append(cmds, c)
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	for _, h := range hints {
		found := false
		for _, c := range cmds {
			all := true
			for _, f := range h.flags {
				all = all && c.Flag(f) != nil
			}
			if all && c.RunE != nil {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no command has all of %v, so %q never gets its hint", h.flags, h.err)
		}
	}
	// The variable hints are given by run, which resolves the variables.
	run, _, err := root.Find([]string{"run"})
	if err != nil {
		t.Fatal(err)
	}
	flagInText := regexp.MustCompile(`--([a-z][a-z-]*)|(?:^|\s)-([a-z]) `)
	for name, text := range variableHints {
		for _, m := range flagInText.FindAllStringSubmatch(text, -1) {
			f := m[1]
			if f == "" {
				f = m[2]
				if run.Flags().ShorthandLookup(f) == nil && run.InheritedFlags().ShorthandLookup(f) == nil {
					t.Errorf("${%s}: run has no -%s", name, f)
				}
				continue
			}
			if run.Flag(f) == nil {
				t.Errorf("${%s}: run has no --%s", name, f)
			}
		}
	}
}

// An ExitError has explained itself already; other errors pass unchanged.
func TestHintLeavesOtherErrorsAlone(t *testing.T) {
	cmd := &cobra.Command{Use: "x"}
	cmd.Flags().String("model", "", "")
	exit := &ExitError{Code: 3, Err: config.ErrNoModel}
	if err := withHint(cmd, exit); err != exit {
		t.Errorf("exit error became %v", err)
	}
	plain := errors.New("something else")
	if err := withHint(cmd, plain); err != plain {
		t.Errorf("plain error became %v", err)
	}
	if err := withHint(cmd, nil); err != nil {
		t.Errorf("nil became %v", err)
	}
}

// Through the real command tree: the capability package's words, then the command's hint.
func TestCommandsAddHints(t *testing.T) {
	dir := t.TempDir()
	template := filepath.Join(dir, "template.yaml")
	if err := os.WriteFile(template, []byte("COMING SOON\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	profile := filepath.Join(dir, "profile.yaml")
	if err := os.WriteFile(profile, []byte(`load: {type: constant, stages: [{rate: 1, duration: 1}]}
api: {type: completion, streaming: true}
server: {model_name: m, base_url: ""}
data: {type: random, input_distribution: {min: 1, max: 9, mean: 5}, output_distribution: {min: 1, max: 9, mean: 5}}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"run", "--preset", "pd", "-n", "x", "--pvc", "p", "--base-url", "http://a:80", "--dry-run=client"}
	refusesBadInput(t, []badInput{
		{append(base, "--rates", "1", "--concurrency", "2"),
			"a sweep has both request rates and concurrency levels: a stage is either rate-driven or concurrency-driven; pass --rates or --concurrency, not both"},
		{append(base, "--poisson"),
			"Poisson arrivals are asked for, but the sweep has no request rates; --poisson shapes the arrivals of --rates: add --rates"},
		{append(base, "--rates", "2", "--stage-duration", "500ms"),
			"stage duration 500ms: a stage must last at least 1s; raise --stage-duration"},
		{append(base, "--concurrency", "0"),
			"0 is not a concurrency level (1 or more); check --concurrency"},
		{[]string{"run", "--config", template, "--dry-run=client"},
			`starts with a bare "COMING SOON" line, so it is an unfinished upstream template, not a config: delete that line; or run a built-in config with --preset NAME`},
		{[]string{"results", "show", dir, "--slo", "ttft"},
			`"ttft" is not a per-request SLO: expected METRIC=DURATION, e.g. ttft=500ms; check --slo`},
		{[]string{"loadgen", "--config", profile, "--output-dir", filepath.Join(dir, "out")},
			`workload: server.base_url "" is not an http(s) URL: set it to the server's address; or pass --base-url URL`},
	})
}

// The capability packages name no command-line flag in their errors: every string literal given
// to fmt.Errorf, errors.New or loadgen's bad() in their sources is free of "--flag" and "-n/".
func TestCapabilityErrorsNameNoFlag(t *testing.T) {
	flag := regexp.MustCompile(`(^|[\s(])(--[a-z]|-[a-z]/)`)
	for _, pkg := range []string{"config", "results", "transfer", "cluster", "launcher", "preset", "loadgen", "runstate"} {
		files, err := filepath.Glob(filepath.Join("..", pkg, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no sources (%v)", pkg, err)
		}
		checked := 0
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, file, src, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || !isErrorCall(call) {
					return true
				}
				checked++
				for _, arg := range call.Args {
					lit, ok := arg.(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					s, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					if flag.MatchString(s) {
						t.Errorf("%s: an error names a flag: %q", fset.Position(lit.Pos()), s)
					}
				}
				return true
			})
		}
		if checked == 0 {
			t.Errorf("%s: no error call found; the check reads nothing", pkg)
		}
	}
}

func isErrorCall(call *ast.CallExpr) bool {
	switch fn := call.Fun.(type) {
	case *ast.SelectorExpr:
		x, ok := fn.X.(*ast.Ident)
		return ok && (x.Name == "fmt" && fn.Sel.Name == "Errorf" || x.Name == "errors" && fn.Sel.Name == "New")
	case *ast.Ident:
		return fn.Name == "bad"
	}
	return false
}
