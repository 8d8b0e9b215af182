// Package plugin holds the cobra commands of kubectl llmdbench: one file per subcommand, each an
// XOptions with Complete, Validate and Run(ctx). The work itself lives in the capability packages.
package plugin

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"
)

// ExitError ends the program with Code after the command has already explained itself (for
// example a run whose verdict table shows the failed workloads).
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// NewCmdRoot builds `kubectl llmdbench` with the standard kube flags bound once.
func NewCmdRoot(streams genericiooptions.IOStreams, info BuildInfo) *cobra.Command {
	configFlags := genericclioptions.NewConfigFlags(true).WithWarningPrinter(streams)
	f := cmdutil.NewFactory(configFlags)

	cmd := &cobra.Command{
		Use:   "llmdbench",
		Short: "Benchmark an llm-d inference stack from kubectl",
		Long: templates.LongDesc(`
			Benchmark an llm-d inference stack with one command.

			kubectl llmdbench runs the llm-d-benchmark harnesses (inference-perf, guidellm,
			vllm-benchmark, inferencemax) against a deployed stack: it finds the gateway, renders
			the workloads, starts launcher pods on the results volume and reports a verdict.
			It works the same as 'oc llmdbench'.`),
		SilenceUsage:  true,
		SilenceErrors: true,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl llmdbench"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
	cmd.SetIn(streams.In)
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	configFlags.AddFlags(cmd.PersistentFlags())
	addLogFlags(cmd.PersistentFlags(), streams.ErrOut)
	cmd.AddCommand(
		NewCmdRun(f, streams, info.Version),
		NewCmdAttach(f, streams),
		NewCmdStatus(f, streams),
		NewCmdDelete(f, streams),
		NewCmdDoctor(f, streams),
		NewCmdLogs(f, streams),
		NewCmdResults(f, streams),
		NewCmdCp(f, streams),
		NewCmdPack(f, streams),
		NewCmdLoadgen(f, streams, info.Version),
		NewCmdPresets(f, streams),
		NewCmdVersion(f, streams, info),
	)
	// The capability packages' errors name no flag; each command adds its own flag hints here.
	addHints(cmd)
	// pflag writes a deprecated flag's notice to the flag set's output, which cobra would copy
	// to the command's Out, our stdout; a notice is a warning, so it goes to stderr.
	warnOnStderr(cmd, streams.ErrOut)
	return cmd
}

func warnOnStderr(cmd *cobra.Command, errOut io.Writer) {
	cmd.Flags().SetOutput(errOut)
	for _, sub := range cmd.Commands() {
		warnOnStderr(sub, errOut)
	}
}
