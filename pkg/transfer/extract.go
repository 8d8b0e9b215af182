// Package transfer copies result folders out of a pod as a compressed tar stream over exec, with
// retries that skip completed files, and extracts them without ever writing outside the target.
package transfer

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// DefaultMaxBytes caps what one extraction may write (per-request files reach GBs, but a stream
// that never ends must not fill the disk).
const DefaultMaxBytes int64 = 64 << 30

// ExtractOptions bound an extraction and report its progress.
type ExtractOptions struct {
	MaxBytes int64
	// Written, when set, is told the file bytes written so far.
	Written func(total int64)
}

// EntryError names the archive entry that was refused and why.
type EntryError struct {
	Entry  string
	Reason string
}

func (e *EntryError) Error() string {
	return fmt.Sprintf("refusing archive entry %q: %s", e.Entry, e.Reason)
}

// Extracted reports what an extraction wrote.
type Extracted struct {
	// Files are the regular files written completely, as slash paths relative to the target.
	Files []string
	Bytes int64
}

// Extract reads a tar stream into dest. It refuses, naming the entry: absolute paths, '..'
// components, symlinks or hard links whose target leaves dest, any write through a symlink,
// devices and fifos, and more data than the limit. Everything goes through an os.Root, so even a
// check missed here cannot reach outside dest. When the stream breaks, the files written
// completely so far are still reported, so a retry can skip them.
func Extract(r io.Reader, dest string, lim ExtractOptions) (Extracted, error) {
	var out Extracted
	if lim.MaxBytes <= 0 {
		lim.MaxBytes = DefaultMaxBytes
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return out, err
	}
	root, err := os.OpenRoot(dest)
	if err != nil {
		return out, err
	}
	defer root.Close()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("reading the archive: %w", err)
		}
		name, err := cleanName(h.Name)
		if err != nil {
			return out, err
		}
		if name == "." {
			continue
		}
		if err := refuseSymlinkParents(root, name); err != nil {
			return out, err
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, 0o755); err != nil {
				return out, &EntryError{Entry: h.Name, Reason: err.Error()}
			}
		case tar.TypeReg:
			if h.Size < 0 || out.Bytes+h.Size > lim.MaxBytes {
				return out, &EntryError{Entry: h.Name, Reason: fmt.Sprintf("the copy would exceed its size cap of %d bytes", lim.MaxBytes)}
			}
			var report func(int64)
			if lim.Written != nil {
				// Progress within a file too: a per-request file alone can take minutes.
				before := out.Bytes
				report = func(n int64) { lim.Written(before + n) }
			}
			n, err := writeFile(root, name, tr, h, report)
			out.Bytes += n
			if lim.Written != nil {
				lim.Written(out.Bytes)
			}
			if err != nil {
				return out, err
			}
			out.Files = append(out.Files, name)
		case tar.TypeSymlink:
			if err := checkLinkTarget(name, h.Linkname); err != nil {
				return out, &EntryError{Entry: h.Name, Reason: err.Error()}
			}
			if err := root.MkdirAll(path.Dir(name), 0o755); err != nil {
				return out, &EntryError{Entry: h.Name, Reason: err.Error()}
			}
			_ = root.Remove(name)
			if err := root.Symlink(h.Linkname, name); err != nil {
				return out, &EntryError{Entry: h.Name, Reason: err.Error()}
			}
		case tar.TypeLink:
			target, err := cleanName(h.Linkname)
			if err != nil || target == "." {
				return out, &EntryError{Entry: h.Name, Reason: fmt.Sprintf("hard link to %q leaves the destination", h.Linkname)}
			}
			if err := refuseSymlinkParents(root, target); err != nil {
				return out, err
			}
			if st, err := root.Lstat(target); err != nil || !st.Mode().IsRegular() {
				return out, &EntryError{Entry: h.Name, Reason: fmt.Sprintf("hard link to %q, which is not a file already extracted", h.Linkname)}
			}
			_ = root.Remove(name)
			if err := root.Link(target, name); err != nil {
				return out, &EntryError{Entry: h.Name, Reason: err.Error()}
			}
		case tar.TypeXGlobalHeader, tar.TypeXHeader:
			// metadata only
		default:
			return out, &EntryError{Entry: h.Name, Reason: fmt.Sprintf("%s entries are not extracted", typeName(h.Typeflag))}
		}
	}
}

// progressWriter tells report the bytes written so far; it wraps the file being written.
type progressWriter struct {
	w      io.Writer
	n      int64
	report func(int64)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.n += int64(n)
	p.report(p.n)
	return n, err
}

// writeFile writes one regular file, telling report (when set) the bytes written so far.
func writeFile(root *os.Root, name string, r io.Reader, h *tar.Header, report func(int64)) (int64, error) {
	if err := root.MkdirAll(path.Dir(name), 0o755); err != nil {
		return 0, &EntryError{Entry: h.Name, Reason: err.Error()}
	}
	if st, err := root.Lstat(name); err == nil && !st.Mode().IsRegular() {
		// Never write through an existing symlink (or onto a folder).
		return 0, &EntryError{Entry: h.Name, Reason: "a non-file of that name already exists"}
	}
	mode := fs.FileMode(h.Mode).Perm() &^ 0o022
	if mode == 0 {
		mode = 0o644
	}
	f, err := root.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode|0o200)
	if err != nil {
		return 0, &EntryError{Entry: h.Name, Reason: err.Error()}
	}
	var dst io.Writer = f
	if report != nil {
		dst = &progressWriter{w: f, report: report}
	}
	n, err := io.CopyBuffer(dst, io.LimitReader(r, h.Size), make([]byte, 1<<20))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != h.Size {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		// A partial file is not kept: a retry fetches it whole.
		_ = root.Remove(name)
		return n, fmt.Errorf("writing %s: %w", name, err)
	}
	return n, nil
}

// cleanName turns an entry name into a clean relative slash path, or refuses it.
func cleanName(name string) (string, error) {
	if name == "" {
		return "", &EntryError{Entry: name, Reason: "empty name"}
	}
	if strings.HasPrefix(name, "/") || filepath.IsAbs(name) || strings.Contains(name, `\`) && filepath.Separator == '\\' {
		return "", &EntryError{Entry: name, Reason: "absolute path"}
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", &EntryError{Entry: name, Reason: "'..' in the path"}
		}
	}
	if strings.ContainsRune(name, 0) {
		return "", &EntryError{Entry: name, Reason: "NUL in the path"}
	}
	return path.Clean(name), nil
}

// refuseSymlinkParents makes sure no folder on the way to name is a symlink, so nothing is
// written through one.
func refuseSymlinkParents(root *os.Root, name string) error {
	dir := path.Dir(name)
	for dir != "." && dir != "/" {
		st, err := root.Lstat(dir)
		if errors.Is(err, fs.ErrNotExist) {
			dir = path.Dir(dir)
			continue
		}
		if err != nil {
			return &EntryError{Entry: name, Reason: err.Error()}
		}
		if st.Mode()&fs.ModeSymlink != 0 {
			return &EntryError{Entry: name, Reason: fmt.Sprintf("%s is a symlink; nothing is written through one", dir)}
		}
		dir = path.Dir(dir)
	}
	return nil
}

// checkLinkTarget allows only relative symlink targets that stay inside the destination.
func checkLinkTarget(name, target string) error {
	if target == "" || strings.HasPrefix(target, "/") || filepath.IsAbs(target) {
		return fmt.Errorf("link to %q leaves the destination", target)
	}
	resolved := path.Join(path.Dir(name), target)
	if resolved == ".." || strings.HasPrefix(resolved, "../") {
		return fmt.Errorf("link to %q leaves the destination", target)
	}
	return nil
}

func typeName(t byte) string {
	switch t {
	case tar.TypeChar:
		return "character device"
	case tar.TypeBlock:
		return "block device"
	case tar.TypeFifo:
		return "fifo"
	}
	return fmt.Sprintf("type %q", t)
}
