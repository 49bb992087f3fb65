package mirror

// OCI image layouts as source and target (DESIGN.md, "Air-gapped transfers: OCI image layouts").
//
// A layout reference is oci-layout://<path>:<ref> or oci-layout://<path>@<digest> (a target may
// also name the bare path; its ref is then the tag of the source). Inside the engine a layout
// is an imageRef whose Repo is a synthetic repository whose host carries the path
// (<hex of the path>.oci-layout.invalid/layout), so the Engine keeps no table of layouts:
// planning, the plan's tree and the registry copy path stay the same, and the few places that
// do I/O ask layoutOf(repo) whether they read from or write to a directory instead of a
// registry:
//
//   - reading (fetchTop, fetch, imagePlatform, ResolveSource and the blob source of copyBlob):
//     manifests and blobs are files under blobs/sha256, verified against their digest;
//   - writing (Apply to a layout): blobs, then manifests, are written as files (temporary file,
//     digest and size verified, rename), then the index.json entry, under an exclusive lock of
//     the layout and by an atomic rename, so that mirrors sharing a layout lose no update;
//   - Check and Delete read and edit index.json; Delete removes the blobs no remaining entry
//     reaches.
//
// Writers hold a shared lock (gc.lock) from their first blob to their index.json entry; the
// garbage collection of Delete holds it exclusively, so it never removes the blobs of a mirror
// that has not written its entry yet.

import (
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
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/zarf-dev/terraform-provider-zarf/internal/filelock"
)

// LayoutScheme starts a reference to an OCI image layout directory.
const LayoutScheme = "oci-layout://"

// Annotations of index.json entries (OCI image specification, as Zarf writes them).
const (
	AnnotationRefName  = "org.opencontainers.image.ref.name"
	AnnotationBaseName = "org.opencontainers.image.base.name"
)

const (
	layoutHostSuffix = ".oci-layout.invalid" // .invalid is reserved (RFC 2606): never a real registry
	layoutRepoPath   = "layout"
	layoutFile       = "oci-layout"
	layoutIndexFile  = "index.json"
	layoutVersion    = `{"imageLayoutVersion":"1.0.0"}`
	layoutLockFile   = "index.lock"
	layoutGCLockFile = "gc.lock"
)

// IsLayout reports whether ref names an OCI image layout.
func IsLayout(ref string) bool { return strings.HasPrefix(ref, LayoutScheme) }

// layoutStore is one layout directory.
type layoutStore struct {
	display string // the path as written
	dir     string // absolute
}

// layoutOf returns the layout behind a synthetic repository, nil for a registry repository.
func (e *Engine) layoutOf(repo name.Repository) *layoutStore {
	encoded, ok := strings.CutSuffix(repo.RegistryStr(), layoutHostSuffix)
	if !ok {
		return nil
	}
	raw, err := hex.DecodeString(encoded)
	if err != nil {
		return nil
	}
	display := string(raw)
	dir, err := filepath.Abs(display)
	if err != nil {
		dir = display // relative to the working directory all the same
	}
	return &layoutStore{display: display, dir: dir}
}

// layoutRepository is the synthetic repository of the layout at path (as written).
func layoutRepository(path string) (name.Repository, error) {
	return name.NewRepository(hex.EncodeToString([]byte(path)) + layoutHostSuffix + "/" + layoutRepoPath)
}

// parseLayoutRef parses oci-layout://<path>[:<ref>|@<digest>]. A source (the attribute source,
// or the data source's ref) without ref or digest is an error, as a layout has no "latest".
func parseLayoutRef(attr, s string) (imageRef, error) {
	bad := func(format string, args ...any) (imageRef, error) {
		return imageRef{}, &ReferenceError{Attribute: attr, Value: s, Reason: fmt.Sprintf(format, args...)}
	}
	isSource := attr == "source" || attr == "ref"
	path, ref, digest, sep := splitLayoutRef(strings.TrimPrefix(s, LayoutScheme))
	if hasDriveLetter(path) && runtime.GOOS != "windows" {
		return bad("the layout path %q starts with a Windows drive letter, but this provider runs on %s, where it would be "+
			"a relative directory named %q; write a path of this machine", path, runtime.GOOS, path[:1]+":")
	}
	if path == "" {
		return bad("the layout path is empty; write oci-layout://<path>:<ref> or oci-layout://<path>@sha256:<digest>")
	}
	if sep == ':' && ref == "" {
		return bad("it ends with %q but names no ref after it; write oci-layout://<path>:<ref> or oci-layout://<path>@sha256:<digest>", ":")
	}
	if strings.ContainsFunc(ref, func(r rune) bool { return r < 0x20 || r == 0x7f || r == ' ' }) {
		return bad("ref %q contains white space or control characters", ref)
	}
	var out imageRef
	if sep == '@' {
		h, err := v1.NewHash(digest)
		if err != nil || h.Algorithm != "sha256" {
			return bad("digest %q is not sha256:<64 hex digits>", digest)
		}
		out.Digest = h.String()
	}
	if isSource && ref == "" && out.Digest == "" {
		return bad("name the image in the layout: oci-layout://%s:<ref> (a ref name or the original image reference) or oci-layout://%s@sha256:<digest>", path, path)
	}
	repo, err := layoutRepository(path)
	if err != nil {
		return bad("%v", err)
	}
	out.Repo = repo
	out.Layout = &layoutRef{Path: path, Name: ref}
	out.Tag = ref
	if isSource {
		out.Tag = tagOf(ref)
	}
	return out, nil
}

// splitLayoutRef splits what follows oci-layout:// into the path and what follows the first
// separator after it (sep): ':' the ref, '@' the digest, 0 none. A Windows drive letter ("C:\"
// or "C:/") belongs to the path: the ref follows the next colon.
func splitLayoutRef(rest string) (path, ref, digest string, sep byte) {
	skip := 0
	if hasDriveLetter(rest) {
		skip = len("C:")
	}
	i := strings.IndexAny(rest[skip:], ":@")
	if i < 0 {
		return rest, "", "", 0
	}
	i += skip
	if rest[i] == ':' {
		return rest[:i], rest[i+1:], "", ':'
	}
	return rest[:i], "", rest[i+1:], '@'
}

// hasDriveLetter reports whether a path starts with a Windows drive letter and a separator.
func hasDriveLetter(path string) bool {
	if len(path) < 3 || path[1] != ':' || (path[2] != '/' && path[2] != '\\') {
		return false
	}
	c := path[0] | 0x20 // lower case
	return c >= 'a' && c <= 'z'
}

// tagOf is the tag a layout ref gives a registry target: the ref when it is a valid tag, the
// tag of the ref when it is an image reference, else none.
func tagOf(ref string) string {
	if ref == "" || tagPattern.MatchString(ref) {
		return ref
	}
	if t, err := name.NewTag(ref); err == nil && strings.Contains(ref, ":") {
		return t.TagStr()
	}
	return ""
}

// layoutRef is the layout part of an imageRef.
type layoutRef struct {
	Path string
	Name string // the ref (empty: by digest, or for a target, the source's tag)
}

// baseNameOf is the full source reference recorded in org.opencontainers.image.base.name, Docker
// Hub written as docker.io, as Zarf records it.
func baseNameOf(r imageRef) string {
	s := r.Repo.Name()
	if r.Repo.RegistryStr() == name.DefaultRegistry {
		s = "docker.io/" + r.Repo.RepositoryStr()
	}
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

func (l *layoutStore) blobPath(digest string) string {
	alg, hexPart, _ := strings.Cut(digest, ":")
	return filepath.Join(l.dir, "blobs", alg, hexPart)
}

// layoutIndex is index.json: the fields this engine edits, and every other field as it is.
type layoutIndex struct {
	other     map[string]json.RawMessage
	Manifests []v1.Descriptor
}

func (l *layoutStore) readIndex() (*layoutIndex, error) {
	raw, err := os.ReadFile(filepath.Join(l.dir, layoutIndexFile))
	if err != nil {
		return nil, err
	}
	idx := &layoutIndex{}
	if err := json.Unmarshal(raw, &idx.other); err != nil {
		return nil, fmt.Errorf("layout %s: index.json does not parse: %w", l.display, err)
	}
	if m, ok := idx.other["manifests"]; ok {
		if err := json.Unmarshal(m, &idx.Manifests); err != nil {
			return nil, fmt.Errorf("layout %s: the manifests of index.json do not parse: %w", l.display, err)
		}
	}
	return idx, nil
}

// writeIndex replaces index.json atomically: a temporary file, then a rename.
func (l *layoutStore) writeIndex(idx *layoutIndex) error {
	if idx.other == nil {
		idx.other = map[string]json.RawMessage{}
	}
	idx.other["schemaVersion"] = json.RawMessage("2")
	idx.other["mediaType"] = json.RawMessage(`"` + string(types.OCIImageIndex) + `"`)
	if idx.Manifests == nil {
		idx.Manifests = []v1.Descriptor{}
	}
	m, err := json.Marshal(idx.Manifests)
	if err != nil {
		return err
	}
	idx.other["manifests"] = m
	raw, err := json.MarshalIndent(idx.other, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(l.dir, layoutIndexFile), raw)
}

func writeAtomic(path string, data []byte) error {
	return writeFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// writeFileAtomic writes a temporary file beside path with write, syncs it and renames it into
// place, so readers see the old file or the whole new one, never a part.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// ensure creates the layout when it is missing: the oci-layout file, an empty index.json and
// blobs/sha256.
func (l *layoutStore) ensure() error {
	if err := os.MkdirAll(filepath.Join(l.dir, "blobs", "sha256"), 0o755); err != nil {
		return fmt.Errorf("creating layout %s: %w", l.display, err)
	}
	if _, err := os.Stat(filepath.Join(l.dir, layoutFile)); errors.Is(err, fs.ErrNotExist) {
		if err := writeAtomic(filepath.Join(l.dir, layoutFile), []byte(layoutVersion)); err != nil {
			return fmt.Errorf("creating layout %s: %w", l.display, err)
		}
	}
	return l.withIndexLock(func() error {
		if _, err := os.Stat(filepath.Join(l.dir, layoutIndexFile)); errors.Is(err, fs.ErrNotExist) {
			return l.writeIndex(&layoutIndex{})
		}
		return nil
	})
}

// withIndexLock runs f while holding the exclusive lock of index.json.
func (l *layoutStore) withIndexLock(f func() error) error {
	unlock, err := filelock.Lock(filepath.Join(l.dir, layoutLockFile), true)
	if err != nil {
		return fmt.Errorf("locking layout %s: %w", l.display, err)
	}
	defer unlock()
	return f()
}

// update edits the entries of index.json under the lock, and writes it when edit says so.
func (l *layoutStore) update(edit func(entries []v1.Descriptor) ([]v1.Descriptor, bool)) error {
	return l.withIndexLock(func() error {
		idx, err := l.readIndex()
		if err != nil {
			return err
		}
		entries, changed := edit(idx.Manifests)
		if !changed {
			return nil
		}
		idx.Manifests = entries
		if err := l.writeIndex(idx); err != nil {
			return fmt.Errorf("writing %s/index.json: %w", l.display, err)
		}
		return nil
	})
}

// hasBlob reports whether the blob is there with the given size (-1: any size).
func (l *layoutStore) hasBlob(digest string, size int64) bool {
	fi, err := os.Stat(l.blobPath(digest))
	return err == nil && fi.Mode().IsRegular() && (size < 0 || fi.Size() == size)
}

// readManifest reads a whole blob of at most MaxManifestBytes (a manifest) and checks its
// digest.
func (l *layoutStore) readManifest(digest string) ([]byte, error) {
	const limit = MaxManifestBytes
	f, err := os.Open(l.blobPath(digest))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("layout %s has no blob %s: %w", l.display, digest, errNotFound)
		}
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(raw)) > limit {
		return nil, fmt.Errorf("layout %s: blob %s is larger than %d bytes", l.display, digest, limit)
	}
	if got := sha256Digest(raw); got != digest {
		return nil, fmt.Errorf("layout %s: blob %s has the digest %s; the layout is corrupt", l.display, digest, got)
	}
	return raw, nil
}

// openBlob opens a blob for streaming; the reader fails at the end when digest or size differ.
func (l *layoutStore) openBlob(d v1.Descriptor) (io.ReadCloser, error) {
	f, err := os.Open(l.blobPath(d.Digest.String()))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("layout %s has no blob %s: %w", l.display, d.Digest, errNotFound)
		}
		return nil, err
	}
	return &verifyingReader{rc: f, h: sha256.New(), want: d.Digest.String(), size: d.Size, what: "layout " + l.display}, nil
}

// verifyingReader checks size and digest of what it reads.
type verifyingReader struct {
	rc   io.ReadCloser
	h    hash.Hash
	n    int64
	want string
	size int64
	what string
}

func (r *verifyingReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	r.h.Write(p[:n])
	r.n += int64(n)
	if r.size >= 0 && r.n > r.size {
		return n, fmt.Errorf("%s: blob %s is longer than %d bytes", r.what, r.want, r.size)
	}
	if errors.Is(err, io.EOF) {
		if r.size >= 0 && r.n != r.size {
			return n, fmt.Errorf("%s: blob %s has %d bytes, expected %d: %w", r.what, r.want, r.n, r.size, io.ErrUnexpectedEOF)
		}
		if got := "sha256:" + hex.EncodeToString(r.h.Sum(nil)); got != r.want {
			return n, fmt.Errorf("%s: blob %s has the digest %s", r.what, r.want, got)
		}
	}
	return n, err
}

func (r *verifyingReader) Close() error { return r.rc.Close() }

// writeBlob stores what r yields as the blob d: written to a temporary file, checked against
// the digest and size, renamed into place. A blob already there is left as it is.
func (l *layoutStore) writeBlob(d v1.Descriptor, r io.Reader) (int64, error) {
	path := l.blobPath(d.Digest.String())
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return 0, err
	}
	var n int64
	err := writeFileAtomic(path, func(w io.Writer) error {
		vr := &verifyingReader{rc: io.NopCloser(r), h: sha256.New(), want: d.Digest.String(), size: d.Size, what: "copying to layout " + l.display}
		var err error
		n, err = io.Copy(w, vr)
		if err == nil && n != d.Size {
			err = fmt.Errorf("blob %s: %d bytes, expected %d", d.Digest, n, d.Size)
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// describeEntry names an index.json entry for a message.
func describeEntry(d v1.Descriptor) string {
	var parts []string
	if r := d.Annotations[AnnotationRefName]; r != "" {
		parts = append(parts, fmt.Sprintf("ref %q", r))
	}
	if b := d.Annotations[AnnotationBaseName]; b != "" {
		parts = append(parts, fmt.Sprintf("image %q", b))
	}
	parts = append(parts, d.Digest.String())
	return strings.Join(parts, ", ")
}

// sameImage reports whether two image references name the same image once normalised
// (nginx:1.27 = docker.io/library/nginx:1.27 = index.docker.io/library/nginx:1.27).
func sameImage(a, b string) bool {
	if a == b {
		return true
	}
	ra, err1 := name.ParseReference(a)
	rb, err2 := name.ParseReference(b)
	return err1 == nil && err2 == nil && ra.Name() == rb.Name()
}

// find returns the entry of index.json that ref names: by ref name, else by the original image
// reference (base name); a digest alone finds any manifest of the layout.
func (l *layoutStore) find(ref imageRef) (v1.Descriptor, error) {
	idx, err := l.readIndex()
	if errors.Is(err, fs.ErrNotExist) {
		return v1.Descriptor{}, fmt.Errorf("%s is not an OCI image layout (it has no index.json): %w", l.display, errNotFound)
	}
	if err != nil {
		return v1.Descriptor{}, err
	}
	want := ref.Layout.Name
	match := func(pred func(d v1.Descriptor) bool) (v1.Descriptor, bool) {
		for _, d := range idx.Manifests {
			if pred(d) && (ref.Digest == "" || d.Digest.String() == ref.Digest) {
				return d, true
			}
		}
		return v1.Descriptor{}, false
	}
	if want != "" {
		if d, ok := match(func(d v1.Descriptor) bool { return d.Annotations[AnnotationRefName] == want }); ok {
			return d, nil
		}
		if d, ok := match(func(d v1.Descriptor) bool {
			b := d.Annotations[AnnotationBaseName]
			return b != "" && sameImage(b, want)
		}); ok {
			return d, nil
		}
	} else if ref.Digest != "" {
		if d, ok := match(func(v1.Descriptor) bool { return true }); ok {
			return d, nil
		}
		if l.hasBlob(ref.Digest, -1) {
			h, _ := v1.NewHash(ref.Digest)
			return v1.Descriptor{Digest: h}, nil // media type from the manifest itself
		}
	}
	if ref.Digest != "" && want != "" && l.hasBlob(ref.Digest, -1) {
		// pinned (apply after plan): the digest decides, the entry may have moved since
		h, _ := v1.NewHash(ref.Digest)
		return v1.Descriptor{Digest: h}, nil
	}
	var have []string
	for _, d := range idx.Manifests {
		have = append(have, describeEntry(d))
	}
	if len(have) == 0 {
		have = []string{"(none)"}
	}
	what := fmt.Sprintf("ref %q", want)
	if want == "" {
		what = ref.Digest
	}
	return v1.Descriptor{}, fmt.Errorf("layout %s has no entry for %s; it lists: %s: %w", l.display, what, strings.Join(have, "; "), errNotFound)
}

// mediaTypeOf reads the mediaType field of a manifest (index or image) when its descriptor
// does not give it.
func mediaTypeOf(raw []byte, fallback types.MediaType) types.MediaType {
	var m struct {
		MediaType types.MediaType   `json:"mediaType"`
		Manifests []json.RawMessage `json:"manifests"`
	}
	if json.Unmarshal(raw, &m) == nil {
		switch {
		case m.MediaType != "":
			return m.MediaType
		case fallback != "":
			return fallback
		case m.Manifests != nil:
			return types.OCIImageIndex
		}
	}
	if fallback != "" {
		return fallback
	}
	return types.OCIManifestSchema1
}

// top reads the top manifest of a layout source.
func (l *layoutStore) top(ref imageRef) (v1.Descriptor, []byte, error) {
	d, err := l.find(ref)
	if err != nil {
		return v1.Descriptor{}, nil, err
	}
	raw, err := l.readManifest(d.Digest.String())
	if err != nil {
		return v1.Descriptor{}, nil, err
	}
	d.MediaType = mediaTypeOf(raw, d.MediaType)
	d.Size = int64(len(raw))
	return d, raw, nil
}

// baseName is the original reference of the entry ref names (for a hop from layout to layout),
// else the ref itself.
func (l *layoutStore) baseName(ref imageRef) string {
	if d, err := l.find(ref); err == nil {
		if b := d.Annotations[AnnotationBaseName]; b != "" {
			return b
		}
	}
	if ref.Layout.Name != "" {
		return ref.Layout.Name
	}
	return ref.Digest
}

// reachable lists every blob that the entries of index.json reach (manifests, configs,
// layers), following indexes; blobs that are missing or do not parse end the walk there.
func (l *layoutStore) reachable(entries []v1.Descriptor) map[string]bool {
	seen := map[string]bool{}
	var visit func(d string, depth int)
	visit = func(d string, depth int) {
		if seen[d] || depth > MaxNestingDepth+2 {
			return
		}
		seen[d] = true
		raw, err := l.readManifest(d)
		if err != nil {
			return
		}
		var m struct {
			Manifests []v1.Descriptor `json:"manifests"`
			Config    *v1.Descriptor  `json:"config"`
			Layers    []v1.Descriptor `json:"layers"`
			Blobs     []v1.Descriptor `json:"blobs"`
		}
		if json.Unmarshal(raw, &m) != nil {
			return
		}
		for _, c := range m.Manifests {
			visit(c.Digest.String(), depth+1)
		}
		if m.Config != nil {
			seen[m.Config.Digest.String()] = true
		}
		for _, b := range append(m.Layers, m.Blobs...) {
			seen[b.Digest.String()] = true
		}
	}
	for _, e := range entries {
		visit(e.Digest.String(), 0)
	}
	return seen
}

// collect removes the blobs that no entry of index.json reaches. It holds the garbage
// collection lock exclusively, so no mirror is between its first blob and its entry.
func (l *layoutStore) collect() error {
	unlockGC, err := filelock.Lock(filepath.Join(l.dir, layoutGCLockFile), true)
	if err != nil {
		return fmt.Errorf("locking layout %s: %w", l.display, err)
	}
	defer unlockGC()
	return l.withIndexLock(func() error {
		idx, err := l.readIndex()
		if err != nil {
			return err
		}
		keep := l.reachable(idx.Manifests)
		dir := filepath.Join(l.dir, "blobs", "sha256")
		files, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, f := range files {
			if f.IsDir() || strings.HasPrefix(f.Name(), ".") || keep["sha256:"+f.Name()] {
				continue
			}
			if err := os.Remove(filepath.Join(dir, f.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("layout %s: removing blob %s: %w", l.display, f.Name(), err)
			}
		}
		return nil
	})
}

// entryFor is the index.json entry of a mirror.
func entryFor(p *Plan) v1.Descriptor {
	h, _ := v1.NewHash(p.Digest)
	d := v1.Descriptor{MediaType: types.MediaType(p.MediaType), Digest: h, Size: int64(len(p.root.out)), Annotations: map[string]string{}}
	if p.TargetTag != "" {
		d.Annotations[AnnotationRefName] = p.TargetTag
	}
	if p.baseName != "" {
		d.Annotations[AnnotationBaseName] = p.baseName
	}
	return d
}

// sameEntry tells whether an entry belongs to the mirror with the given ref (tag) and digest:
// by its ref name, or, for a mirror without ref, by its digest among the entries without one.
func sameEntry(d v1.Descriptor, tag, digest string) bool {
	if tag != "" {
		return d.Annotations[AnnotationRefName] == tag
	}
	return d.Annotations[AnnotationRefName] == "" && d.Digest.String() == digest
}
