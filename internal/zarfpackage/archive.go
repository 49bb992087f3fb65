package zarfpackage

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// Split packages (zarf-dev/zarf src/internal/split/split.go): <archive>.part000 describes the
// archive, <archive>.part001 … hold its bytes.
const (
	splitSuffix   = ".part000"
	maxSplitParts = 999 // Zarf refuses to split into 1,000 files or more
	maxPart0Bytes = 4 << 10
)

// splitPartName matches the data parts, which must be opened through their .part000.
var splitPartName = regexp.MustCompile(`\.part\d{3}$`)

// splitMetadata is the JSON of a .part000 file (Zarf's ZarfSplitPackageData: no JSON tags).
type splitMetadata struct {
	Sha256Sum string
	Bytes     int64
	Count     int
}

// zstdMagic starts every zstd frame (RFC 8878).
var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// source is the files an archive is made of: the archive itself, or the parts of a split one.
type source struct {
	display string   // the path as the user gave it, for messages
	abs     string   // the absolute path
	files   []string // the files whose identity says whether the archive changed
	data    []string // the files whose concatenation is the archive, in order
	split   *splitMetadata
}

// openSource finds the files of the archive at path. A split archive is named by its .part000.
func openSource(path string) (*source, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("reading Zarf package %s: %w", path, err)
	}
	if !strings.HasSuffix(path, splitSuffix) {
		if splitPartName.MatchString(path) {
			return nil, &RefusedError{Archive: path, Problem: ProblemNotAPackage,
				Detail: "this is one part of a split package: give the path of its .part000 file, which describes the parts"}
		}
		if _, err := os.Stat(abs); err != nil {
			return nil, fmt.Errorf("reading Zarf package %s: %w", path, err)
		}
		return &source{display: path, abs: abs, files: []string{abs}, data: []string{abs}}, nil
	}
	raw, err := readSmallFile(abs, maxPart0Bytes)
	if err != nil {
		return nil, fmt.Errorf("reading Zarf package %s: %w", path, err)
	}
	var meta splitMetadata
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&meta); err != nil || !isSHA256Hex(meta.Sha256Sum) || meta.Bytes < 0 || meta.Count < 1 || meta.Count > maxSplitParts {
		return nil, &RefusedError{Archive: path, Problem: ProblemNotAPackage, Entry: filepath.Base(path),
			Detail: `not the description of a split Zarf package ({"Sha256Sum": <sha256 hex>, "Bytes": <size>, "Count": <parts>})`, Err: err}
	}
	base := strings.TrimSuffix(abs, splitSuffix)
	s := &source{display: path, abs: abs, files: []string{abs}, split: &meta}
	for i := 1; i <= meta.Count+1; i++ {
		part := fmt.Sprintf("%s.part%03d", base, i)
		_, err := os.Stat(part)
		switch {
		case i <= meta.Count && err != nil:
			return nil, &RefusedError{Archive: path, Problem: ProblemIntegrity, Entry: filepath.Base(part),
				Detail: fmt.Sprintf("part %d of %d is missing: copy every part of the split package", i, meta.Count), Err: err}
		case i > meta.Count && err == nil:
			return nil, &RefusedError{Archive: path, Problem: ProblemIntegrity, Entry: filepath.Base(part),
				Detail: fmt.Sprintf("the package was split into %d parts, but this part %d exists too: it belongs to another package", meta.Count, i)}
		case i <= meta.Count:
			s.files = append(s.files, part)
			s.data = append(s.data, part)
		}
	}
	return s, nil
}

// openArchiveFile opens a file of an archive for reading; the tests count the calls.
var openArchiveFile = os.Open

func readSmallFile(path string, limit int64) ([]byte, error) {
	f, err := openArchiveFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(raw)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return raw, nil
}

// identity says, without reading them, whether the files of the archive are still the ones
// whose digest was computed.
func (s *source) identity() ([]fileIdentity, error) {
	ids := make([]fileIdentity, 0, len(s.files))
	for _, f := range s.files {
		fi, err := os.Stat(f)
		if err != nil {
			return nil, fmt.Errorf("reading Zarf package %s: %w", s.display, err)
		}
		ids = append(ids, identityOf(fi))
	}
	return ids, nil
}

// archiveStream is the archive's bytes, hashed as they are read, and the tar stream inside
// them, limited.
type archiveStream struct {
	src   *source
	raw   *concatReader
	hash  hash.Hash
	bytes int64
	tar   *limitedReader
	zstd  *zstd.Decoder
}

// open starts reading the archive: its bytes (every part in turn), hashed as they stream, then
// decompressed when they are zstd, up to maxBytes and while ctx lasts.
func (s *source) open(ctx context.Context, maxBytes int64) (*archiveStream, error) {
	st := &archiveStream{src: s, raw: &concatReader{files: s.data}, hash: sha256.New()}
	hashed := bufio.NewReaderSize(io.TeeReader(st.raw, countingWriter{st.hash, &st.bytes}), 1<<20)
	head, err := hashed.Peek(len(zstdMagic))
	if err != nil && !errors.Is(err, io.EOF) {
		st.Close()
		return nil, fmt.Errorf("reading Zarf package %s: %w", s.display, err)
	}
	var tarStream io.Reader = hashed
	if bytes.Equal(head, zstdMagic) {
		// One goroutine: the tar reader and the file writes are the pace, and a provider runs
		// many of these at once.
		st.zstd, err = zstd.NewReader(hashed, zstd.WithDecoderConcurrency(1))
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("reading Zarf package %s: %w", s.display, err)
		}
		tarStream = zstdReader{st.zstd}
	}
	st.tar = &limitedReader{ctx: ctx, r: tarStream, limit: maxBytes}
	return st, nil
}

// finish reads what is left of the archive (what follows the tar stream's end is part of the
// archive's digest too) and returns the archive's digest, checked against a split package's
// description.
func (st *archiveStream) finish() (string, error) {
	if _, err := io.Copy(io.Discard, st.tar); err != nil {
		if explained := st.tar.explain(st.src.display, err); explained != err {
			return "", explained
		}
		return "", &RefusedError{Archive: st.src.display, Problem: ProblemNotAPackage, Detail: "unreadable after its last entry", Err: err}
	}
	if _, err := io.Copy(io.Discard, st.raw); err != nil {
		return "", fmt.Errorf("reading Zarf package %s: %w", st.src.display, err)
	}
	digest := hex.EncodeToString(st.hash.Sum(nil))
	if m := st.src.split; m != nil && (digest != m.Sha256Sum || st.bytes != m.Bytes) {
		return "", &RefusedError{Archive: st.src.display, Problem: ProblemIntegrity,
			Detail: fmt.Sprintf("its parts hold %d bytes with sha256 %s, its .part000 says %d bytes with sha256 %s", st.bytes, digest, m.Bytes, m.Sha256Sum)}
	}
	return digest, nil
}

func (st *archiveStream) Close() {
	if st.zstd != nil {
		st.zstd.Close()
	}
	st.raw.Close()
}

// zstdReader marks the errors of the zstd decoder about the data as corruptError.
type zstdReader struct{ d *zstd.Decoder }

func (z zstdReader) Read(p []byte) (int, error) {
	n, err := z.d.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && !errors.As(err, new(*fs.PathError)) {
		err = &corruptError{err}
	}
	return n, err
}

// corruptError is an error of the zstd decoder about the data it decodes.
type corruptError struct{ err error }

func (e *corruptError) Error() string { return e.err.Error() }
func (e *corruptError) Unwrap() error { return e.err }

// concatReader reads files one after the other, opening each when it is reached.
type concatReader struct {
	files []string
	cur   *os.File
}

func (r *concatReader) Read(p []byte) (int, error) {
	for {
		if r.cur == nil {
			if len(r.files) == 0 {
				return 0, io.EOF
			}
			f, err := openArchiveFile(r.files[0])
			if err != nil {
				return 0, err
			}
			r.cur, r.files = f, r.files[1:]
		}
		n, err := r.cur.Read(p)
		if errors.Is(err, io.EOF) {
			r.cur.Close()
			r.cur = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

func (r *concatReader) Close() {
	if r.cur != nil {
		r.cur.Close()
		r.cur = nil
	}
}

// countingWriter writes to w and counts the bytes.
type countingWriter struct {
	w io.Writer
	n *int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	*c.n += int64(len(p))
	return c.w.Write(p)
}
