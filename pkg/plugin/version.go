package plugin

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"
)

// BuildInfo is what main knows about the binary.
type BuildInfo struct {
	Version string
}

// VersionInfo is printed by `version`.
type VersionInfo struct {
	Version   string `json:"version"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
	Commit    string `json:"commit,omitempty"`
}

// VersionOptions holds the flags of `version`.
type VersionOptions struct {
	Output string
	info   BuildInfo
	genericiooptions.IOStreams
}

// NewVersionOptions returns the defaults.
func NewVersionOptions(info BuildInfo, streams genericiooptions.IOStreams) *VersionOptions {
	return &VersionOptions{info: info, IOStreams: streams}
}

// NewCmdVersion builds `kubectl llmdbench version`.
func NewCmdVersion(f cmdutil.Factory, streams genericiooptions.IOStreams, info BuildInfo) *cobra.Command {
	o := NewVersionOptions(info, streams)
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the plugin version",
		Example: templates.Examples(`
			# Print the version
			kubectl llmdbench version

			# Print it as JSON
			kubectl llmdbench version -o json`),
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
	return cmd
}

// Complete has nothing to resolve: the version is built in.
func (o *VersionOptions) Complete(cmdutil.Factory, *cobra.Command, []string) error { return nil }

// Validate checks the flags.
func (o *VersionOptions) Validate() error { return validateOutput(o.Output) }

// Run prints the version.
func (o *VersionOptions) Run(context.Context) error {
	v := o.versionInfo()
	if o.Output == "" {
		_, err := fmt.Fprintf(o.Out, "kubectl-llmdbench %s (%s, %s)\n", v.Version, v.GoVersion, v.Platform)
		return err
	}
	return printStructured(o.Out, o.Output, v)
}

func (o *VersionOptions) versionInfo() VersionInfo {
	v := VersionInfo{Version: o.info.Version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v.Version = bi.Main.Version // go install …@vX.Y.Z
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				v.Commit = s.Value
			}
		}
	}
	if v.Version == "" {
		v.Version = "v0.0.0-dev"
	}
	return v
}
