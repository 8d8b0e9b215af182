package plugin

import (
	goflag "flag"
	"io"

	"github.com/spf13/pflag"
	"k8s.io/klog/v2"
)

// addLogFlags binds klog's -v and --vmodule to flags and routes klog (client-go's own lines
// included) to errOut only when -v is above 0: without it, a Ctrl-C or a dropped watch leaves
// no "E1130 12:00:00.000 …" lines on the terminal; the tool says what matters itself.
func addLogFlags(flags *pflag.FlagSet, errOut io.Writer) {
	fs := goflag.NewFlagSet("klog", goflag.ContinueOnError)
	klog.InitFlags(fs)
	// Everything goes through the gate below; klog's own copy to stderr is off.
	for name, value := range map[string]string{"logtostderr": "false", "alsologtostderr": "false", "stderrthreshold": "FATAL", "one_output": "true"} {
		_ = fs.Set(name, value)
	}
	klog.SetOutput(verboseOnly{errOut})
	v := pflag.PFlagFromGoFlag(fs.Lookup("v"))
	v.Shorthand = "v"
	v.Usage = "Log level: 4 shows every exec command, 6 every API request"
	flags.AddFlag(v)
	flags.AddFlag(pflag.PFlagFromGoFlag(fs.Lookup("vmodule")))
}

// verboseOnly passes klog's lines on only at -v 1 and above.
type verboseOnly struct{ w io.Writer }

func (v verboseOnly) Write(p []byte) (int, error) {
	if !klog.V(1).Enabled() {
		return len(p), nil
	}
	return v.w.Write(p)
}
