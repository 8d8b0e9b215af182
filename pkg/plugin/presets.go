package plugin

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/llmdbench/kubectl-llmdbench/pkg/preset"
)

// PresetsOptions holds the flags of `presets`.
type PresetsOptions struct {
	Output string
	genericiooptions.IOStreams
}

// NewPresetsOptions returns the defaults.
func NewPresetsOptions(streams genericiooptions.IOStreams) *PresetsOptions {
	return &PresetsOptions{IOStreams: streams}
}

// NewCmdPresets builds `kubectl llmdbench presets` and its `show` subcommand.
func NewCmdPresets(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewPresetsOptions(streams)
	cmd := &cobra.Command{
		Use:     "presets",
		Aliases: []string{"preset"},
		Short:   "List the embedded well-lit-path presets",
		Long: templates.LongDesc(`
			List the embedded presets: one for each llm-d guide path, with the guide file and month
			it was written from, llm-d-benchmark's spec names for it (aliases, accepted wherever a
			preset is), and the harnesses it has workloads for (WORKLOADS are the default harness's;
			'presets show NAME --harness H' prints another's). A gateway of '-' means the guide names
			none: pass --gateway or --base-url. Each preset is a complete run_only.sh config;
			'presets show' prints it so it can be saved and edited.`),
		Example: templates.Examples(`
			# List the presets
			kubectl llmdbench presets

			# Save the pd preset, edit it, and run it
			kubectl llmdbench presets show pd > my-pd.yaml
			kubectl llmdbench run -f my-pd.yaml -n my-ns --pvc workload-pvc`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(f, cmd, args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", o.Output, "Output format: json or yaml")
	cmd.AddCommand(NewCmdPresetsShow(f, streams))
	return cmd
}

// Complete has nothing to resolve: the presets are embedded.
func (o *PresetsOptions) Complete(cmdutil.Factory, *cobra.Command, []string) error { return nil }

// Validate checks the flags.
func (o *PresetsOptions) Validate() error { return validateOutput(o.Output) }

// Run prints the catalogue.
func (o *PresetsOptions) Run(context.Context) error {
	list, err := preset.List()
	if err != nil {
		return err
	}
	if o.Output != "" {
		return printStructured(o.Out, o.Output, list)
	}
	w := printers.GetNewTabWriter(o.Out)
	fmt.Fprintln(w, "NAME\tALIASES\tGATEWAY\tMODEL\tHARNESSES\tWORKLOADS\tSOURCE")
	for _, p := range list {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, orDash(strings.Join(p.Aliases, ",")), orDash(p.Gateway), p.Model,
			strings.Join(p.Harnesses, ","), strings.Join(p.Workloads, ","), p.Source)
	}
	return w.Flush()
}

// PresetsShowOptions holds the arguments of `presets show`.
type PresetsShowOptions struct {
	Name    string
	Harness string
	genericiooptions.IOStreams
}

// NewPresetsShowOptions returns the defaults.
func NewPresetsShowOptions(streams genericiooptions.IOStreams) *PresetsShowOptions {
	return &PresetsShowOptions{IOStreams: streams}
}

// NewCmdPresetsShow builds `kubectl llmdbench presets show NAME`.
func NewCmdPresetsShow(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewPresetsShowOptions(streams)
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Print a preset's config, placeholders intact",
		Example: templates.Examples(`
			# Print the inference-scheduling preset
			kubectl llmdbench presets show inference-scheduling

			# Print its GuideLLM workloads, as a config of their own
			kubectl llmdbench presets show optimized-baseline --harness guidellm`),
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completePresetNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(f, cmd, args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&o.Harness, "harness", "", "Print the preset's config for this harness (see the HARNESSES column of 'presets')")
	return cmd
}

// Complete takes the preset name.
func (o *PresetsShowOptions) Complete(_ cmdutil.Factory, _ *cobra.Command, args []string) error {
	o.Name = args[0]
	return nil
}

// Validate refuses an unknown preset.
func (o *PresetsShowOptions) Validate() error {
	_, err := preset.SourceFor(o.Name, o.Harness)
	return err
}

// Run prints the preset file as embedded.
func (o *PresetsShowOptions) Run(context.Context) error {
	data, err := preset.SourceFor(o.Name, o.Harness)
	if err != nil {
		return err
	}
	_, err = o.Out.Write(data)
	return err
}

func completePresetNames(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return presetChoices(), cobra.ShellCompDirectiveNoFileComp
}

// orDash prints an empty catalogue field as '-'.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// presetChoices completes --preset and 'presets show': the names, then llm-d-benchmark's spec
// names (aliases), each list sorted.
func presetChoices() []string {
	var aliases []string
	for a := range preset.Aliases() {
		aliases = append(aliases, a)
	}
	sort.Strings(aliases)
	return append(preset.Names(), aliases...)
}
