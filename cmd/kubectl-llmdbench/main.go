// Command kubectl-llmdbench is the kubectl (and oc) plugin that benchmarks an llm-d inference stack.
package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	_ "k8s.io/client-go/plugin/pkg/client/auth" // cloud and OIDC credential helpers, as kubectl has
	cmdutil "k8s.io/kubectl/pkg/cmd/util"

	"github.com/llmdbench/kubectl-llmdbench/pkg/plugin"
)

// version is stamped at build time (-ldflags "-X main.version=v1.2.3").
var version string

func main() {
	// Nothing may register on the global flag set; the root command owns every flag.
	pflag.CommandLine = pflag.NewFlagSet("kubectl-llmdbench", pflag.ExitOnError)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	err := plugin.NewCmdRoot(streams, plugin.BuildInfo{Version: version}).ExecuteContext(ctx)
	err = plugin.MapInterrupt(ctx, streams.ErrOut, err) // Ctrl-C: one line and 130, never "context canceled"
	stop()
	var exit *plugin.ExitError
	if errors.As(err, &exit) {
		os.Exit(exit.Code) // the command already reported why
	}
	cmdutil.CheckErr(err) // kubectl's formatting of API and usage errors; exits 1
}
