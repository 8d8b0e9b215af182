package transfer

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/llmdbench/kubectl-llmdbench/pkg/runstate"
)

// Runner runs a command in the pod that holds the files, streaming its stdout. It never sends
// stdin. (The plugin passes kubectl's exec; tests pass anything.)
type Runner func(ctx context.Context, cmd []string, stdout, stderr io.Writer) error

// File is a regular file below the base folder.
type File struct {
	Path string // slash path relative to the base
	Size int64
}

// Options describe one copy.
type Options struct {
	// Base is the folder in the pod the paths are relative to (the results mount).
	Base string
	// Dirs are the folders to copy, relative to Base.
	Dirs []string
	// Skip leaves matching files out (e.g. the per-request file) and reports them.
	Skip func(File) bool
	// Compression of the stream; empty means CompressAuto.
	Compression Compression
	// Packer is the plugin's command name inside the pod, for CompressAuto.
	Packer string
	// Dest receives Dirs as subfolders.
	Dest    string
	Retries int
	// Backoff is the first pause before a retry; it doubles.
	Backoff time.Duration
	Limits  ExtractOptions
	// Progress is told the bytes extracted so far and the total expected.
	Progress func(done, total int64)
	// OnRetry is told why an attempt failed before the next one.
	OnRetry func(attempt int, err error)
}

// Result reports a copy.
type Result struct {
	Files     int
	Bytes     int64
	WireBytes int64
	Attempts  int
	Skipped   []File
	// Present are the files already complete in Dest (same size and SHA-256 as in the pod),
	// left as they are.
	Present      int
	PresentBytes int64
	// Codec is what the pod sent: zstd, gzip or none (of the last attempt).
	Codec string
}

// Compression chooses how the pod compresses the stream.
type Compression string

const (
	// CompressAuto packs with the plugin itself when the pod has it (zstd on every core:
	// about an eighth of the bytes, faster than a raw tar on loopback), else with a zstd
	// binary when the image has one, else with gzip -1.
	CompressAuto Compression = "auto"
	// CompressGzip uses gzip -1, which every image has: about a seventh of the bytes, on one core.
	CompressGzip Compression = "gzip"
	// CompressNone sends a plain tar.
	CompressNone Compression = "none"
)

// ParseCompression accepts the values of the --compress flag.
func ParseCompression(s string) (Compression, error) {
	switch c := Compression(s); c {
	case CompressAuto, CompressGzip, CompressNone:
		return c, nil
	}
	return "", fmt.Errorf("compression %q is %w: use auto, gzip or none", s, ErrCompression)
}

// ListCommand prints "size path" for every regular file below dirs (relative to base).
func ListCommand(base string, dirs []string) []string {
	return append([]string{"sh", "-c", `cd "$1" && shift && find "$@" -type f -exec stat -c '%s %n' {} +`, "list", base}, dirs...)
}

// List returns the regular files below dirs.
func List(ctx context.Context, run Runner, base string, dirs []string) ([]File, error) {
	var out, stderr bytes.Buffer
	if err := run(ctx, ListCommand(base, dirs), &out, &stderr); err != nil {
		return nil, fmt.Errorf("listing %s: %w %s", strings.Join(dirs, ", "), err, runstate.StderrLine(stderr.String()))
	}
	var files []File
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		size, name, ok := strings.Cut(sc.Text(), " ")
		n, err := strconv.ParseInt(size, 10, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("unexpected listing line %q", sc.Text())
		}
		files = append(files, File{Path: path.Clean(strings.TrimPrefix(name, "./")), Size: n})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}

// Copy streams the folders as a compressed tar over exec and extracts them safely into
// Dest. Files already complete in Dest (an earlier copy, perhaps interrupted) are not sent
// again: a local file of the pod file's size whose SHA-256 matches the one sha256sum computes
// in the pod is kept. A broken stream is retried; each retry asks only for the files not yet
// complete.
func Copy(ctx context.Context, run Runner, o Options) (Result, error) {
	var res Result
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	all, err := List(ctx, run, o.Base, o.Dirs)
	if err != nil {
		return res, err
	}
	var pending []File
	var total int64
	for _, f := range all {
		if o.Skip != nil && o.Skip(f) {
			res.Skipped = append(res.Skipped, f)
			continue
		}
		pending = append(pending, f)
		total += f.Size
	}
	if present, err := Present(ctx, run, o.Base, o.Dest, pending); err == nil && len(present) > 0 {
		var left []File
		for _, f := range pending {
			if present[f.Path] {
				res.Present++
				res.PresentBytes += f.Size
				total -= f.Size
			} else {
				left = append(left, f)
			}
		}
		pending = left
	} else if err != nil && ctx.Err() != nil {
		return res, err
	}
	// An image without sha256sum (or a failed check) copies everything again, as before.
	var done int64
	backoff := o.Backoff
	whole := len(res.Skipped) == 0 && res.Present == 0
	res.Attempts = 1
	for len(pending) > 0 {
		// Whole folders make a short command (not every tar can exclude files); otherwise the
		// files are named, in batches that keep the exec request small.
		batch := pending
		if !whole {
			batch = firstBatch(pending, maxArgBytes)
		}
		got, wire, codec, err := fetch(ctx, run, o, batch, whole, func(n int64) {
			if o.Progress != nil {
				o.Progress(done+n, total)
			}
		})
		res.WireBytes += wire
		if codec != "" {
			res.Codec = codec
		}
		complete := map[string]bool{}
		for _, f := range got.Files {
			complete[f] = true
		}
		var left []File
		for _, f := range pending {
			if complete[f.Path] {
				res.Files++
				res.Bytes += f.Size
				done += f.Size
			} else {
				left = append(left, f)
			}
		}
		missing := len(left) - (len(pending) - len(batch))
		pending = left
		if err == nil && missing > 0 {
			err = fmt.Errorf("%d file(s) missing from the stream", missing)
		}
		whole = false
		if err == nil {
			continue
		}
		var entry *EntryError
		if errors.As(err, &entry) || ctx.Err() != nil || res.Attempts > o.Retries {
			return res, err // a hostile archive is not retried; nor is a cancelled copy
		}
		if o.OnRetry != nil {
			o.OnRetry(res.Attempts, err)
		}
		res.Attempts++
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(backoff):
		}
		backoff *= 2
	}
	return res, nil
}

// ChecksumCommand prints "sha256  path" for files below base: busybox's and coreutils'
// sha256sum print the same.
func ChecksumCommand(base string, files []string) []string {
	return append([]string{"sh", "-c", `cd "$1" && shift && exec sha256sum -- "$@"`, "checksum", base}, files...)
}

// Present returns which of files (relative to base in the pod) are complete below dest: a
// regular local file of the same size and SHA-256. Only files whose size matches are hashed,
// in the pod and here.
func Present(ctx context.Context, run Runner, base, dest string, files []File) (map[string]bool, error) {
	var candidates []File
	for _, f := range files {
		if st, err := os.Lstat(filepath.Join(dest, filepath.FromSlash(f.Path))); err == nil && st.Mode().IsRegular() && st.Size() == f.Size {
			candidates = append(candidates, f)
		}
	}
	// The local files are hashed while the pod hashes its own.
	local := make(map[string]string, len(candidates))
	hashed := make(chan struct{})
	toHash := candidates
	go func() {
		defer close(hashed)
		for _, f := range toHash {
			if ctx.Err() != nil {
				return
			}
			if sum, err := localSHA256(filepath.Join(dest, filepath.FromSlash(f.Path))); err == nil {
				local[f.Path] = sum
			}
		}
	}()
	defer func() { <-hashed }()
	present, remoteSums := map[string]bool{}, map[string]string{}
	for len(candidates) > 0 {
		batch := firstBatch(candidates, maxArgBytes)
		candidates = candidates[len(batch):]
		names := make([]string, len(batch))
		for i, f := range batch {
			names[i] = f.Path
		}
		var out, stderr bytes.Buffer
		if err := run(ctx, ChecksumCommand(base, names), &out, &stderr); err != nil {
			return nil, fmt.Errorf("checksums of %d file(s) in the pod: %w %s", len(names), err, runstate.StderrLine(stderr.String()))
		}
		remote, err := parseChecksums(out.Bytes())
		if err != nil {
			return nil, err
		}
		for _, f := range batch {
			if want, ok := remote[f.Path]; ok {
				present[f.Path] = true
				remoteSums[f.Path] = want
			}
		}
	}
	<-hashed
	for p := range present {
		if got, ok := local[p]; !ok || got != remoteSums[p] {
			delete(present, p)
		}
	}
	return present, nil
}

// parseChecksums reads sha256sum's "hash  path" lines (a " *" separator in binary mode).
func parseChecksums(out []byte) (map[string]string, error) {
	sums := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if len(line) < 66 || (line[64:66] != "  " && line[64:66] != " *") {
			return nil, fmt.Errorf("unexpected sha256sum line %q", line)
		}
		sums[path.Clean(line[66:])] = strings.ToLower(line[:64])
	}
	return sums, sc.Err()
}

func localSHA256(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// maxArgBytes bounds the file names of one tar command (they travel in the exec request).
const maxArgBytes = 32 << 10

func firstBatch(files []File, limit int) []File {
	n := 0
	for i, f := range files {
		n += len(f.Path) + 1
		if n > limit && i > 0 {
			return files[:i]
		}
	}
	return files
}

// Scripts that write the tar stream in the pod; "$1" is the base folder. gzip -1: JSON still
// shrinks to about a seventh, at several times the speed of tar -z's default level. In auto, the
// best the pod has wins: the plugin when it is there and answers --check (an older one without
// the command does not), else a zstd binary that takes these flags (a tenth of gzip's CPU for a
// smaller stream), else gzip, which every image has.
const (
	gzipScript = `cd "$1" && shift && tar cf - "$@" | gzip -1`
	rawScript  = `cd "$1" && shift && exec tar cf - "$@"`
	autoScript = `cd "$1" && p=$2 && shift 2 &&
if [ -n "$p" ] && "$p" pack --check >/dev/null 2>&1; then exec "$p" pack -- "$@"; fi
if zstd -1 -T0 -q -c </dev/null >/dev/null 2>&1; then tar cf - "$@" | zstd -1 -T0 -q -c; exit; fi
tar cf - "$@" | gzip -1`
)

// fetch runs one tar stream of files (whole folders when nothing was copied yet) and extracts it.
func fetch(ctx context.Context, run Runner, o Options, files []File, whole bool, progress func(int64)) (Extracted, int64, string, error) {
	var cmd []string
	switch o.Compression {
	case CompressNone:
		cmd = []string{"sh", "-c", rawScript, "tar", o.Base}
	case CompressGzip:
		cmd = []string{"sh", "-c", gzipScript, "tar", o.Base}
	default:
		cmd = []string{"sh", "-c", autoScript, "tar", o.Base, o.Packer}
	}
	if whole {
		cmd = append(cmd, o.Dirs...)
	} else {
		for _, f := range files {
			cmd = append(cmd, f.Path)
		}
	}
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	runErr := make(chan error, 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		err := run(ctx, cmd, pw, &stderr)
		pw.CloseWithError(err)
		runErr <- err
	}()
	wire := &countingReader{r: pr}
	var ex Extracted
	stream, codec, err := decoder(bufio.NewReaderSize(wire, 1<<20), o.Compression)
	if err == nil {
		lim := o.Limits
		lim.Written = progress
		ex, err = Extract(stream, o.Dest, lim)
		if err == nil {
			_, err = io.Copy(io.Discard, stream) // the rest of the stream, so the exec can finish
		}
		stream.Close()
	}
	if err != nil {
		cancel()
		pr.CloseWithError(err)
	}
	if rerr := <-runErr; rerr != nil {
		// The command's own failure explains a stream that ended early better than the decoder.
		var entry *EntryError
		if err == nil || (!errors.As(err, &entry) && !errors.Is(rerr, context.Canceled)) {
			err = fmt.Errorf("%w %s", rerr, runstate.StderrLine(stderr.String()))
		}
	}
	return ex, wire.n, codec, err
}

// zstd and gzip streams start with these bytes.
var (
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
	gzipMagic = []byte{0x1f, 0x8b}
)

// decoder recognises the stream by its first bytes: the pod decides between zstd and gzip.
func decoder(r *bufio.Reader, c Compression) (io.ReadCloser, string, error) {
	if c == CompressNone {
		return io.NopCloser(r), "none", nil
	}
	head, err := r.Peek(len(zstdMagic))
	switch {
	case bytes.HasPrefix(head, zstdMagic):
		// Bounded: a frame may not ask for more memory than the packer's frames need.
		// One goroutine: the asynchronous decoder costs more CPU than it saves on a busy client.
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(64<<20), zstd.WithDecoderMaxMemory(256<<20))
		if err != nil {
			return nil, "zstd", err
		}
		return d.IOReadCloser(), "zstd", nil
	case bytes.HasPrefix(head, gzipMagic):
		g, err := gzip.NewReader(r)
		return g, "gzip", err
	case err != nil:
		return nil, "", fmt.Errorf("reading the stream: %w", err)
	}
	return nil, "", fmt.Errorf("the pod sent neither zstd nor gzip (starts with % x)", head)
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
