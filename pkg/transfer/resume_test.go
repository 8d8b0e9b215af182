package transfer

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recording runs the real commands (localRunner) and records which script each call ran.
func recording(calls *[]string, fail func(cmd []string) error) Runner {
	inner := localRunner(func(int) int64 { return 0 })
	return func(ctx context.Context, cmd []string, stdout, stderr io.Writer) error {
		*calls = append(*calls, cmd[3]) // the script's $0: list, checksum, tar
		if fail != nil {
			if err := fail(cmd); err != nil {
				return err
			}
		}
		return inner(ctx, cmd, stdout, stderr)
	}
}

// A second copy of folders already here sends nothing: it lists, compares checksums, done.
func TestCopyTwiceSecondMovesNothing(t *testing.T) {
	base, dest := tree(t), t.TempDir()
	o := Options{Base: base, Dirs: []string{"run_a", "run_b"}, Dest: dest, Packer: testPacker}
	var first []string
	res1, err := Copy(context.Background(), recording(&first, nil), o)
	if err != nil {
		t.Fatal(err)
	}
	// run_a has 4 files, run_b 2 (counted by hand from tree).
	if res1.Files != 6 || res1.Present != 0 || res1.WireBytes == 0 || strings.Join(first, ",") != "list,tar" {
		t.Fatalf("first copy: %+v calls %v", res1, first)
	}
	var second []string
	res2, err := Copy(context.Background(), recording(&second, nil), o)
	if err != nil {
		t.Fatal(err)
	}
	if res2.Files != 0 || res2.Bytes != 0 || res2.WireBytes != 0 || res2.Present != 6 || res2.PresentBytes != res1.Bytes {
		t.Errorf("second copy: %+v, want 6 present files of %d bytes and nothing sent", res2, res1.Bytes)
	}
	if strings.Join(second, ",") != "list,checksum" {
		t.Errorf("second copy ran %v; want list and checksum only", second)
	}
}

// Only a file complete here is kept: a partial file (an interrupted copy), one of the same
// size but other content, and a missing one are fetched again; the rest is not.
func TestCopyResumesOnlyIncompleteFiles(t *testing.T) {
	base, dest := tree(t), t.TempDir()
	o := Options{Base: base, Dirs: []string{"run_a"}, Dest: dest, Packer: testPacker}
	if _, err := Copy(context.Background(), recording(new([]string), nil), o); err != nil {
		t.Fatal(err)
	}
	local := func(rel string) string { return filepath.Join(dest, filepath.FromSlash(rel)) }
	// Cut short, as an interrupted extraction leaves it.
	if err := os.Truncate(local("run_a/per_request.json"), 1000); err != nil {
		t.Fatal(err)
	}
	// Same size, other bytes: only the checksum tells.
	if err := os.WriteFile(local("run_a/summary.json"), []byte(`{"ok":null}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(local("run_a/analysis/plot.png")); err != nil {
		t.Fatal(err)
	}
	stage, _ := os.Stat(local("run_a/stage_0.json"))
	res, err := Copy(context.Background(), recording(new([]string), nil), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Files != 3 || res.Present != 1 || res.PresentBytes != stage.Size() {
		t.Errorf("%+v; want 3 fetched and stage_0.json (%d bytes) kept", res, stage.Size())
	}
	for _, rel := range []string{"run_a/per_request.json", "run_a/summary.json", "run_a/analysis/plot.png", "run_a/stage_0.json"} {
		if !same(t, filepath.Join(base, rel), local(rel)) {
			t.Errorf("%s is not intact after the resumed copy", rel)
		}
	}
}

// An image without sha256sum copies everything, as before.
func TestCopyWithoutChecksumsCopiesAll(t *testing.T) {
	base, dest := tree(t), t.TempDir()
	o := Options{Base: base, Dirs: []string{"run_b"}, Dest: dest, Packer: testPacker}
	if _, err := Copy(context.Background(), recording(new([]string), nil), o); err != nil {
		t.Fatal(err)
	}
	noSum := func(cmd []string) error {
		if cmd[3] == "checksum" {
			return errors.New("sh: sha256sum: not found")
		}
		return nil
	}
	res, err := Copy(context.Background(), recording(new([]string), noSum), o)
	if err != nil || res.Files != 2 || res.Present != 0 {
		t.Errorf("%+v %v", res, err)
	}
}

func TestParseChecksums(t *testing.T) {
	h := strings.Repeat("ab", 32)
	sums, err := parseChecksums([]byte(h + "  run_a/with space.json\n" + strings.ToUpper(h) + " *./run_b/x\n"))
	if err != nil || sums["run_a/with space.json"] != h || sums["run_b/x"] != h || len(sums) != 2 {
		t.Errorf("%v %v", sums, err)
	}
	for _, bad := range []string{"short  x\n", h + "xx\n"} {
		if _, err := parseChecksums([]byte(bad)); err == nil {
			t.Errorf("%q must not parse", bad)
		}
	}
}
