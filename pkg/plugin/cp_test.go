package plugin

import (
	"io"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// cp's flags are checked in Validate, before any read of the cluster.
func TestCpValidate(t *testing.T) {
	streams := genericiooptions.IOStreams{Out: io.Discard, ErrOut: io.Discard}
	for _, tc := range []struct {
		name string
		set  func(*CpOptions)
		want string
	}{
		{"negative retries", func(o *CpOptions) { o.Retries = -1 }, "--retries must be 0 or more"},
		{"size without unit meaning", func(o *CpOptions) { o.MaxSize = "lots" }, `--max-size "lots": give a size such as 64Gi`},
		{"zero size", func(o *CpOptions) { o.MaxSize = "0" }, `--max-size "0": give a size such as 64Gi`},
		{"unknown compression", func(o *CpOptions) { o.Compress = "lz4" }, ""},
	} {
		o := NewCpOptions(streams)
		tc.set(o)
		err := o.Validate()
		if err == nil || (tc.want != "" && err.Error() != tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
	o := NewCpOptions(streams)
	o.MaxSize = "1Ki"
	if err := o.Validate(); err != nil || o.maxBytes != 1024 {
		t.Errorf("1Ki: %v, %d bytes", err, o.maxBytes)
	}
}
