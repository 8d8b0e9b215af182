package transfer

import (
	"errors"
	"testing"
)

func TestParseCompression(t *testing.T) {
	for _, ok := range []Compression{CompressAuto, CompressGzip, CompressNone} {
		if c, err := ParseCompression(string(ok)); err != nil || c != ok {
			t.Errorf("%q: %q, %v", ok, c, err)
		}
	}
	_, err := ParseCompression("zstd")
	if !errors.Is(err, ErrCompression) || err.Error() != `compression "zstd" is not one the copy knows: use auto, gzip or none` {
		t.Errorf("error %v", err)
	}
}
