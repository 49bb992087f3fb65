package layout

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// Resolve returns the descriptor of the manifest that ref names: a digest, or a name (an entry's
// ref name, else its original image reference). The descriptor carries the annotations and
// artifact type of the entry found (for a digest, of the first entry of that digest, if any).
func (s *Store) Resolve(_ context.Context, ref string) (v1.Descriptor, error) {
	d, _, err := s.lookup(ref)
	return d, err
}

// Manifest returns the bytes of the manifest that ref names (see Resolve), checked against its
// digest.
func (s *Store) Manifest(_ context.Context, ref string) (v1.Descriptor, []byte, error) {
	return s.lookup(ref)
}

// lookup finds the entry that ref names and reads its manifest.
func (s *Store) lookup(ref string) (v1.Descriptor, []byte, error) {
	entries, err := s.entries()
	if err != nil {
		return v1.Descriptor{}, nil, err
	}
	var d v1.Descriptor
	if h, err := v1.NewHash(ref); err == nil {
		d.Digest = h
		if i := slices.IndexFunc(entries, func(e v1.Descriptor) bool { return e.Digest == h }); i >= 0 {
			d = entries[i]
		}
	} else if named, found := findName(entries, ref); found {
		d = named
	} else {
		if _, err := os.Stat(filepath.Join(s.dir, indexFile)); isNotExist(err) {
			return v1.Descriptor{}, nil, s.notALayout()
		}
		have := make([]string, 0, len(entries))
		for _, e := range entries {
			have = append(have, describeEntry(e))
		}
		if len(have) == 0 {
			have = []string{"(none)"}
		}
		return v1.Descriptor{}, nil, fmt.Errorf("layout %s has no entry for ref %q; it lists: %s: %w",
			s.display, ref, strings.Join(have, "; "), store.ErrNotFound)
	}
	raw, err := s.readManifest(d.Digest)
	if err != nil {
		return v1.Descriptor{}, nil, err
	}
	if err := s.checkBlobs(d.Digest, raw); err != nil {
		return v1.Descriptor{}, nil, err
	}
	d.MediaType = mediaTypeOf(raw, d.MediaType)
	d.Size = int64(len(raw))
	return d, raw, nil
}

// checkBlobs fails with store.ErrNotFound when the image manifest raw lists a config or layer
// that the layout lacks: as a registry holds a manifest only with its blobs, the layout holds it
// only complete, so that a copy into it restores what went missing.
func (s *Store) checkBlobs(h v1.Hash, raw []byte) error {
	var m struct {
		Config *v1.Descriptor  `json:"config"`
		Layers []v1.Descriptor `json:"layers"`
	}
	if json.Unmarshal(raw, &m) != nil {
		return nil //nolint:nilerr // not an image manifest: nothing to check
	}
	if m.Config != nil {
		m.Layers = append(m.Layers, *m.Config)
	}
	for _, b := range m.Layers {
		if !s.hasBlob(b.Digest, b.Size) {
			return s.notFound("lacks blob %s of manifest %s", b.Digest, h)
		}
	}
	return nil
}

// findName returns the entry whose ref name is ref, else the first whose original image
// reference names the same image as ref.
func findName(entries []v1.Descriptor, ref string) (v1.Descriptor, bool) {
	if i := slices.IndexFunc(entries, func(e v1.Descriptor) bool { return e.Annotations[store.AnnotationRefName] == ref }); i >= 0 {
		return entries[i], true
	}
	i := slices.IndexFunc(entries, func(e v1.Descriptor) bool {
		b := e.Annotations[store.AnnotationBaseName]
		return b != "" && sameImage(b, ref)
	})
	if i < 0 {
		return v1.Descriptor{}, false
	}
	return entries[i], true
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

// readManifest reads a whole blob of at most store.MaxManifestBytes (a manifest) and checks its
// digest.
func (s *Store) readManifest(h v1.Hash) ([]byte, error) {
	f, err := os.Open(s.blobPath(h))
	if isNotExist(err) {
		return nil, s.notFound("has no manifest %s", h)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, store.MaxManifestBytes+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > store.MaxManifestBytes {
		return nil, fmt.Errorf("layout %s: blob %s is larger than the %d bytes of a manifest", s.display, h, store.MaxManifestBytes)
	}
	if got := store.Digest(raw); got != h {
		return nil, fmt.Errorf("layout %s: blob %s has the digest %s; the layout is corrupt", s.display, h, got)
	}
	return raw, nil
}

// mediaTypeOf reads the mediaType field of a manifest (index or image); fallback (what an entry
// or a parent index says) when it has none; else what its fields suggest.
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

// Blob opens a blob for streaming; the reader fails at the end when digest or size differ.
func (s *Store) Blob(_ context.Context, d v1.Descriptor) (io.ReadCloser, error) {
	f, err := os.Open(s.blobPath(d.Digest))
	if isNotExist(err) {
		return nil, s.notFound("has no blob %s", d.Digest)
	}
	if err != nil {
		return nil, err
	}
	return store.VerifyingReader(f, d, "layout "+s.display), nil
}

// Tags lists the ref names of the entries, in index.json order, once each; entries without one
// (referrers, untagged roots) have no tag.
func (s *Store) Tags(context.Context) ([]string, error) {
	idx, err := s.readIndex()
	if isNotExist(err) {
		return nil, s.notALayout()
	}
	if err != nil {
		return nil, err
	}
	tags := []string{}
	for _, e := range idx.Manifests {
		if r := e.Annotations[store.AnnotationRefName]; r != "" && !slices.Contains(tags, r) {
			tags = append(tags, r)
		}
	}
	return tags, nil
}

// Referrers lists, ordered by digest, the OCI referrers of subject among the entries: entries
// whose manifest has subject as its subject, and the manifests listed by an entry under the
// fallback tag of subject. Cosign's tags are names: Resolve finds them.
func (s *Store) Referrers(_ context.Context, subject v1.Hash) ([]v1.Descriptor, error) {
	entries, err := s.entries()
	if err != nil {
		return nil, err
	}
	out := []v1.Descriptor{}
	add := func(d v1.Descriptor) {
		if d.Digest != subject && !slices.ContainsFunc(out, func(o v1.Descriptor) bool { return o.Digest == d.Digest }) {
			out = append(out, d)
		}
	}
	for _, e := range entries {
		refName := e.Annotations[store.AnnotationRefName]
		if _, cosign := store.ParseCosignTag(refName); cosign || !mayHaveSubject(e.MediaType) {
			continue
		}
		raw, err := s.readManifest(e.Digest)
		if err != nil {
			continue // an entry whose manifest is gone or broken refers to nothing
		}
		if of, ok := store.ParseFallbackTag(refName); ok {
			var im v1.IndexManifest
			if of == subject && json.Unmarshal(raw, &im) == nil {
				for _, c := range im.Manifests {
					add(c)
				}
			}
			continue
		}
		if of, ok := store.Subject(raw); ok && of == subject {
			d := v1.Descriptor{MediaType: mediaTypeOf(raw, e.MediaType), Digest: e.Digest, Size: int64(len(raw)), ArtifactType: e.ArtifactType}
			if d.ArtifactType == "" {
				d.ArtifactType = store.ArtifactType(raw)
			}
			add(d)
		}
	}
	slices.SortFunc(out, func(a, b v1.Descriptor) int { return strings.Compare(a.Digest.String(), b.Digest.String()) })
	return out, nil
}

// mayHaveSubject tells whether a manifest of this media type can carry a subject or be a
// fallback tag index (OCI types, or unknown: the manifest says).
func mayHaveSubject(mt types.MediaType) bool {
	return mt == "" || mt == types.OCIManifestSchema1 || mt.IsIndex()
}
