package zarfpackage

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
)

// Limits bound what an archive may unpack to, so that an archive built to exhaust the disk
// (a decompression bomb, millions of empty files) is refused before it does.
type Limits struct {
	// MaxBytes bounds the decompressed archive (the tar stream: entries and their headers).
	MaxBytes int64
	// MaxEntries bounds the number of entries.
	MaxEntries int
}

// DefaultLimits are far above real packages (the largest Zarf packages hold tens of GB in a
// few thousand files) and below what fills a disk or its inodes.
var DefaultLimits = Limits{MaxBytes: 128 << 30, MaxEntries: 1 << 20}

// maxMetadataBytes bounds each metadata file (zarf.yaml, checksums.txt, the signatures), which
// the reader holds in memory.
const maxMetadataBytes = 16 << 20

// unpacked is what unpacking an archive found.
type unpacked struct {
	// sums holds the sha256 (hex) of every file of the archive, those not extracted too.
	sums map[string]string
	// meta holds the bytes of the metadata files the archive has.
	meta map[string][]byte
}

// extracted says whether a package file is written to the cache entry: the metadata files and
// the images/ OCI layout. The rest (components/, sboms.tar, ...) is only hashed.
func extracted(name string) bool {
	return slices.Contains(metadataFiles, name) || strings.HasPrefix(name, dirImages+"/")
}

// unpackEntries reads the tar stream guard of archive, checks every entry before it writes
// anything, writes the files the mirror needs under dst and hashes every file.
func unpackEntries(archive string, guard *limitedReader, dst *os.Root, maxEntries int) (*unpacked, error) {
	tr := tar.NewReader(guard)
	out := &unpacked{sums: map[string]string{}, meta: map[string][]byte{}}
	seen := map[string]bool{}    // every entry name
	folders := map[string]bool{} // every folder an entry name implies
	refuse := func(problem Problem, entry, format string, args ...any) error {
		return &RefusedError{Archive: archive, Problem: problem, Entry: entry, Detail: fmt.Sprintf(format, args...)}
	}
	for entries := 1; ; entries++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, guard.explain(archive, err)
		}
		if entries > maxEntries {
			return nil, refuse(ProblemTooLarge, "", "it holds more than %d entries", maxEntries)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue // pax defaults for the entries that follow, no file
		}
		name, err := entryName(hdr.Name)
		if err != nil {
			return nil, refuse(ProblemHostileEntry, hdr.Name, "%v", err)
		}
		if seen[name] {
			return nil, refuse(ProblemHostileEntry, hdr.Name, "a second entry of that name: the archive could say two things of one file")
		}
		seen[name] = true
		if conflict := folderConflict(name, hdr.Typeflag == tar.TypeDir, seen, folders); conflict != "" {
			return nil, refuse(ProblemHostileEntry, hdr.Name, "%s", conflict)
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if name == "." || !strings.HasPrefix(name+"/", dirImages+"/") {
				continue // only images/ is unpacked; the others' files are only hashed
			}
			if err := dst.MkdirAll(name, 0o755); err != nil {
				return nil, fmt.Errorf("unpacking %s: %w", hdr.Name, err)
			}
		case tar.TypeReg:
			if hdr.Size < 0 {
				return nil, refuse(ProblemHostileEntry, hdr.Name, "a negative size")
			}
			if slices.Contains(metadataFiles, name) && hdr.Size > maxMetadataBytes {
				return nil, refuse(ProblemTooLarge, hdr.Name, "%d bytes, more than a %s can be (%d)", hdr.Size, name, maxMetadataBytes)
			}
			sum, content, err := readEntry(tr, hdr, name, dst)
			if err != nil {
				return nil, guard.explain(archive, fmt.Errorf("unpacking %s: %w", hdr.Name, err))
			}
			out.sums[name] = sum
			if content != nil {
				out.meta[name] = content
			}
		case tar.TypeSymlink, tar.TypeLink:
			where := "inside the package folder"
			if leavesFolder(name, hdr.Linkname, hdr.Typeflag == tar.TypeSymlink) {
				where = "leaving the package folder"
			}
			return nil, refuse(ProblemHostileEntry, hdr.Name, "a link to %q (%s): Zarf packages hold no links", hdr.Linkname, where)
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			return nil, refuse(ProblemHostileEntry, hdr.Name, "a device or pipe: Zarf packages hold only files and folders")
		default:
			return nil, refuse(ProblemHostileEntry, hdr.Name, "an entry of tar type %q: Zarf packages hold only files and folders", hdr.Typeflag)
		}
	}
}

// entryName checks the name of an entry and returns it relative to the package folder.
func entryName(raw string) (string, error) {
	switch {
	case raw == "":
		return "", errors.New("an entry without a name")
	case strings.HasPrefix(raw, "/"):
		return "", errors.New("an absolute name: it would be written outside the package folder")
	case slices.Contains(strings.Split(raw, "/"), ".."):
		return "", errors.New("a name with `..`: it could be written outside the package folder")
	case strings.ContainsRune(raw, 0) || strings.Contains(raw, `\`):
		return "", errors.New("a name with a NUL or a backslash, which Zarf never writes")
	}
	return path.Clean(raw), nil
}

// leavesFolder says whether a link entry name → target points outside the package folder.
// A symbolic link's target is relative to the link's folder, a hard link's to the archive root.
func leavesFolder(name, target string, symbolic bool) bool {
	if path.IsAbs(target) {
		return true
	}
	if symbolic {
		target = path.Join(path.Dir(name), target)
	}
	clean := path.Clean(target)
	return clean == ".." || strings.HasPrefix(clean, "../")
}

// folderConflict says what is wrong when name, a folder or a file, clashes with the entries
// before it (seen, and the folders their names imply): a file where a folder is, or the
// reverse. It records the folders name implies.
func folderConflict(name string, folder bool, seen, folders map[string]bool) string {
	if !folder && folders[name] {
		return "a file where earlier entries have a folder"
	}
	for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
		if seen[dir] && !folders[dir] {
			return fmt.Sprintf("inside %q, which an earlier entry made a file", dir)
		}
		folders[dir] = true
	}
	if folder {
		folders[name] = true
	}
	return ""
}

// readEntry reads the file entry name from tr: it hashes it, writes it under dst when the
// cache entry keeps it, and returns the bytes of a metadata file.
func readEntry(tr io.Reader, hdr *tar.Header, name string, dst *os.Root) (sum string, content []byte, err error) {
	h := sha256.New()
	var w io.Writer = h
	var buf *bytes.Buffer
	if slices.Contains(metadataFiles, name) {
		buf = bytes.NewBuffer(make([]byte, 0, hdr.Size))
		w = io.MultiWriter(h, buf)
	}
	if extracted(name) {
		if err := dst.MkdirAll(path.Dir(name), 0o755); err != nil {
			return "", nil, err
		}
		f, err := dst.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return "", nil, err
		}
		defer func() {
			if cerr := f.Close(); err == nil && cerr != nil {
				err = cerr
			}
		}()
		w = io.MultiWriter(w, f)
	}
	if _, err := io.Copy(w, tr); err != nil {
		return "", nil, err
	}
	if buf != nil {
		content = buf.Bytes()
	}
	return hex.EncodeToString(h.Sum(nil)), content, nil
}

// limitedReader stops reading at limit bytes and when ctx ends.
type limitedReader struct {
	ctx      context.Context
	r        io.Reader
	limit, n int64
	exceeded bool
}

var errLimit = errors.New("decompressed size limit reached")

func (l *limitedReader) Read(p []byte) (int, error) {
	if err := l.ctx.Err(); err != nil {
		return 0, err
	}
	if l.n >= l.limit {
		l.exceeded = true
		return 0, errLimit
	}
	if rest := l.limit - l.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	return n, err
}

// explain turns a read error of the tar stream into what it means: the limit, cancellation,
// or an archive that is not a (well-formed) tar stream. Other errors are returned as they are.
func (l *limitedReader) explain(archive string, err error) error {
	switch {
	case l.exceeded:
		return &RefusedError{Archive: archive, Problem: ProblemTooLarge,
			Detail: fmt.Sprintf("it unpacks to more than %d bytes", l.limit)}
	case l.ctx.Err() != nil:
		return l.ctx.Err()
	case errors.Is(err, tar.ErrHeader), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, tar.ErrFieldTooLong):
		return &RefusedError{Archive: archive, Problem: ProblemNotAPackage, Detail: "not a tar archive (or a zstd-compressed one), or cut short", Err: err}
	case errors.As(err, new(*corruptError)):
		return &RefusedError{Archive: archive, Problem: ProblemIntegrity, Detail: "its zstd compression is corrupt", Err: err}
	}
	return err
}
