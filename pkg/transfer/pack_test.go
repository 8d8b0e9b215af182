package transfer

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// testPacker is this test binary: started as `<it> pack ...` with packerEnv set, it is the plugin's
// pack command in a pod (the real Pack, behind the same two arguments cp sends).
var testPacker = os.Args[0]

const packerEnv = "LLMDBENCH_TRANSFER_TEST_PACKER"

func TestMain(m *testing.M) {
	if os.Getenv(packerEnv) == "1" && len(os.Args) > 1 && os.Args[1] == "pack" {
		os.Exit(packerMain(os.Args[2:]))
	}
	_ = os.Setenv(packerEnv, "1")
	os.Exit(m.Run())
}

func packerMain(args []string) int {
	if len(args) == 1 && args[0] == "--check" {
		return 0
	}
	if len(args) == 0 || args[0] != "--" {
		return 2
	}
	w := bufio.NewWriter(os.Stdout)
	if err := Pack(context.Background(), w, ".", args[1:], 0); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := w.Flush(); err != nil {
		return 1
	}
	return 0
}

// unpack decodes a packed stream and extracts it into a new folder.
func unpack(t *testing.T, packed []byte) (string, Extracted, string) {
	t.Helper()
	stream, codec, err := decoder(bufio.NewReader(bytes.NewReader(packed)), CompressAuto)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	dest := t.TempDir()
	ex, err := Extract(stream, dest, ExtractOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return dest, ex, codec
}

func TestPackRoundTripsAcrossFrames(t *testing.T) {
	base := tree(t)
	// Larger than two frames, and not compressible to nothing: the frames must arrive in order.
	big := make([]byte, 2*frameSize+12345)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range big {
		big[i] = "abcdefgh{}\":,0123456789"[r.IntN(23)]
	}
	if err := os.WriteFile(filepath.Join(base, "run_a/big.json"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, workers := range []int{1, 3} {
		var out bytes.Buffer
		if err := Pack(context.Background(), &out, base, []string{"run_a", "./run_b/with space"}, workers); err != nil {
			t.Fatal(err)
		}
		if out.Len() >= len(big) {
			t.Errorf("%d workers: %d bytes for %d of input: not compressed", workers, out.Len(), len(big))
		}
		dest, ex, codec := unpack(t, out.Bytes())
		if codec != "zstd" || len(ex.Files) != 6 {
			t.Fatalf("%d workers: codec %s, files %v", workers, codec, ex.Files)
		}
		for _, rel := range []string{"run_a/big.json", "run_a/per_request.json", "run_a/analysis/plot.png", "run_b/with space/notes.txt"} {
			if !same(t, filepath.Join(base, rel), filepath.Join(dest, rel)) {
				t.Errorf("%d workers: %s differs", workers, rel)
			}
		}
		if _, err := os.Stat(filepath.Join(dest, "run_b/summary.json")); !os.IsNotExist(err) {
			t.Errorf("%d workers: packed a file it was not asked for", workers)
		}
	}
}

func TestPackNeverFollowsLinksOut(t *testing.T) {
	base, outside := tree(t), t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(base, "run_a/link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(base, "run_a/linkdir")); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Pack(context.Background(), &out, base, []string{"run_a"}, 1); err != nil {
		t.Fatal(err)
	}
	_, ex, _ := unpack(t, out.Bytes())
	for _, f := range ex.Files {
		if strings.Contains(f, "link") {
			t.Errorf("packed %s through a link", f)
		}
	}
	// A named link leaving the folder is refused by the root itself.
	out.Reset()
	err := Pack(context.Background(), &out, base, []string{"run_a/linkdir"}, 1)
	if err == nil || strings.Contains(out.String(), "secret") {
		t.Errorf("packing a link to outside: %v", err)
	}
}

func TestPackRefusesBadPathsBeforeWriting(t *testing.T) {
	base := tree(t)
	for _, p := range []string{"../x", "/etc", "", ".", "run_a/../../x"} {
		var out bytes.Buffer
		err := Pack(context.Background(), &out, base, []string{"run_a", p}, 1)
		if err == nil || out.Len() != 0 || !strings.Contains(err.Error(), "inside the folder") {
			t.Errorf("%q: %v (%d bytes written)", p, err, out.Len())
		}
	}
	if err := Pack(context.Background(), io.Discard, base, nil, 1); err == nil {
		t.Error("packing nothing must fail")
	}
	err := Pack(context.Background(), io.Discard, base, []string{"run_a", "missing"}, 1)
	if err == nil || !strings.Contains(err.Error(), "packing missing") {
		t.Errorf("a missing folder: %v", err)
	}
}

type failingWriter struct{ left int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.left {
		return 0, errors.New("stream closed")
	}
	w.left -= len(p)
	return len(p), nil
}

func TestPackStopsOnAWriteError(t *testing.T) {
	base := tree(t)
	big := bytes.Repeat([]byte(`{"start_time": 1283.4, "end_time": 1283.9, "i": 7}`), 3*frameSize/50)
	if err := os.WriteFile(filepath.Join(base, "run_a/big.json"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	err := Pack(context.Background(), &failingWriter{left: 100}, base, []string{"run_a"}, 2)
	if err == nil || !strings.Contains(err.Error(), "stream closed") {
		t.Errorf("got %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Pack(ctx, io.Discard, base, []string{"run_a"}, 2); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestDecoderRecognisesTheStream(t *testing.T) {
	for _, c := range []struct {
		stream, err string
	}{
		{"plain text, not an archive", "neither zstd nor gzip"},
		{"", "reading the stream: EOF"},
		{"\x28\xb5\x2f\xfd\x00\x00garbage", ""}, // recognised; decoding then fails
	} {
		_, codec, err := decoder(bufio.NewReader(strings.NewReader(c.stream)), CompressAuto)
		if c.err == "" {
			if err != nil || codec != "zstd" {
				t.Errorf("%q: %s %v", c.stream, codec, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%q: %v", c.stream, err)
		}
	}
	stream, _, _ := decoder(bufio.NewReader(strings.NewReader("\x28\xb5\x2f\xfd\x00\x00garbage")), CompressAuto)
	dest := t.TempDir()
	if _, err := Extract(stream, dest, ExtractOptions{}); err == nil {
		t.Error("a corrupt zstd stream extracted")
	}
}

// BenchmarkPackUnpack measures the pod's side (pack) and this side (decode and extract) of a
// zstd copy of per-request JSON, in bytes of input per second.
func BenchmarkPackUnpack(b *testing.B) {
	base := b.TempDir()
	// Records like inference-perf's: random prompts from a vocabulary, measured times.
	r := rand.New(rand.NewPCG(3, 4))
	words := make([]string, 2048)
	for i := range words {
		w := make([]byte, 2+r.IntN(8))
		for j := range w {
			w[j] = byte('a' + r.IntN(26))
		}
		words[i] = string(w)
	}
	var buf bytes.Buffer
	for i := 0; buf.Len() < 32<<20; i++ {
		fmt.Fprintf(&buf, `{"start_time": %.6f, "end_time": %.6f, "request": "{\"prompt\": \"`, 1764000000+r.Float64()*600, 1764000001+r.Float64()*600)
		for range 100 + r.IntN(200) {
			buf.WriteString(words[r.IntN(r.IntN(len(words))+1)] + " ") // common words more often
		}
		fmt.Fprintf(&buf, `\"}", "info": {"output_tokens": %d, "output_token_times": [%.6f, %.6f]}}, `, r.IntN(1000), r.Float64(), r.Float64())
	}
	if err := os.MkdirAll(filepath.Join(base, "r"), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(base, "r/per_request_lifecycle_metrics.json"), buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	var packed bytes.Buffer
	b.Run("pack", func(b *testing.B) {
		b.SetBytes(int64(buf.Len()))
		for b.Loop() {
			packed.Reset()
			if err := Pack(context.Background(), &packed, base, []string{"r"}, 0); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(100*float64(packed.Len())/float64(buf.Len()), "%size")
	})
	b.Run("unpack", func(b *testing.B) {
		b.SetBytes(int64(buf.Len()))
		dest := b.TempDir()
		for b.Loop() {
			stream, _, err := decoder(bufio.NewReader(bytes.NewReader(packed.Bytes())), CompressAuto)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := Extract(stream, dest, ExtractOptions{}); err != nil {
				b.Fatal(err)
			}
			stream.Close()
		}
	})
}

// FuzzDecodeExtract feeds what a hostile pod could send through the stream recogniser, the zstd
// or gzip decoder and the extractor: nothing may be written outside the destination, and no
// input may panic or exhaust memory.
func FuzzDecodeExtract(f *testing.F) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		f.Fatal(err)
	}
	for _, data := range hostile {
		f.Add(enc.EncodeAll(data, nil))
		var gz bytes.Buffer
		w := gzip.NewWriter(&gz)
		_, _ = w.Write(data)
		_ = w.Close()
		f.Add(gz.Bytes())
	}
	f.Add(enc.EncodeAll(archive(entry{name: "ok/file", body: "fine"}), nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		if err := os.WriteFile(filepath.Join(parent, "sentinel"), []byte("untouched"), 0o644); err != nil {
			t.Fatal(err)
		}
		dest := filepath.Join(parent, "dest")
		stream, _, err := decoder(bufio.NewReader(bytes.NewReader(data)), CompressAuto)
		if err == nil {
			_, _ = Extract(stream, dest, ExtractOptions{MaxBytes: 1 << 20})
			stream.Close()
		}
		assertConfined(t, parent, dest)
	})
}
