package layout

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/zarf-dev/terraform-provider-zarf/internal/filelock"
	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// PushBlob writes the blob d, read from src, unless the layout holds it with the right size.
func (s *Store) PushBlob(ctx context.Context, d v1.Descriptor, src store.Reader) (store.BlobPush, error) {
	if s.hasBlob(d.Digest, d.Size) {
		return store.BlobPush{How: store.BlobSkipped}, nil
	}
	rc, err := src.Blob(ctx, d)
	if err != nil {
		return store.BlobPush{}, err
	}
	defer rc.Close()
	n, err := s.writeBlob(d, ctxReader{ctx, rc})
	if err != nil {
		return store.BlobPush{}, fmt.Errorf("copying blob %s to layout %s: %w", d.Digest, s.display, err)
	}
	return store.BlobPush{How: store.BlobUploaded, Uploaded: n}, nil
}

// writeBlob stores what r yields as the blob d: written to a temporary file, checked against the
// digest and size, renamed into place.
func (s *Store) writeBlob(d v1.Descriptor, r io.Reader) (int64, error) {
	path := s.blobPath(d.Digest)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return 0, err
	}
	var n int64
	err := writeFileAtomic(path, func(w io.Writer) error {
		var err error
		n, err = io.Copy(w, store.VerifyingReader(io.NopCloser(r), d, "copying to layout "+s.display))
		return err
	})
	return n, err
}

// ctxReader stops reading when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

// PushManifest writes the manifest as a blob. A manifest with a subject (an OCI referrer) also
// gets an index.json entry without ref name, unless it has one, so that it is found by its
// subject.
func (s *Store) PushManifest(_ context.Context, d v1.Descriptor, raw []byte) error {
	if got := store.Digest(raw); got != d.Digest {
		return fmt.Errorf("layout %s: manifest %s: the bytes have the digest %s", s.display, d.Digest, got)
	}
	if !s.hasBlob(d.Digest, int64(len(raw))) {
		if _, err := s.writeBlob(v1.Descriptor{Digest: d.Digest, Size: int64(len(raw))}, bytes.NewReader(raw)); err != nil {
			return fmt.Errorf("writing manifest %s to layout %s: %w", d.Digest, s.display, err)
		}
	}
	if _, ok := store.Subject(raw); !ok {
		return nil
	}
	if err := s.ensure(); err != nil {
		return err
	}
	entry := v1.Descriptor{MediaType: mediaTypeOf(raw, d.MediaType), Digest: d.Digest, Size: int64(len(raw)), ArtifactType: store.ArtifactType(raw)}
	return s.update(func(entries []v1.Descriptor) ([]v1.Descriptor, bool) {
		if slices.ContainsFunc(entries, func(e v1.Descriptor) bool {
			return e.Digest == d.Digest && e.Annotations[store.AnnotationRefName] == ""
		}) {
			return entries, false
		}
		return append(entries, entry), true
	})
}

// Tag makes the entry of ref name tag (tag "": the entry without ref name of d) list d, with
// d's annotations; other entries of that name go.
func (s *Store) Tag(_ context.Context, tag string, d v1.Descriptor, raw []byte) error {
	if err := s.ensure(); err != nil {
		return err
	}
	entry := v1.Descriptor{MediaType: mediaTypeOf(raw, d.MediaType), Digest: d.Digest, Size: int64(len(raw)), Annotations: maps.Clone(d.Annotations)}
	if tag != "" {
		if entry.Annotations == nil {
			entry.Annotations = map[string]string{}
		}
		entry.Annotations[store.AnnotationRefName] = tag
	}
	return s.update(func(entries []v1.Descriptor) ([]v1.Descriptor, bool) {
		var out []v1.Descriptor
		present := false
		for _, e := range entries {
			if ownEntry(e, tag, d.Digest) {
				if !present && sameDescriptor(e, entry) {
					present = true
					out = append(out, e)
				}
				continue
			}
			out = append(out, e)
		}
		if present && len(out) == len(entries) {
			return entries, false
		}
		if !present {
			out = append(out, entry)
		}
		return out, true
	})
}

// ownEntry tells whether an entry is the one of the name tag, or, for tag "", the entry without
// ref name of the digest h.
func ownEntry(e v1.Descriptor, tag string, h v1.Hash) bool {
	if tag != "" {
		return e.Annotations[store.AnnotationRefName] == tag
	}
	return e.Annotations[store.AnnotationRefName] == "" && e.Digest == h
}

func sameDescriptor(a, b v1.Descriptor) bool {
	return a.Digest == b.Digest && a.MediaType == b.MediaType && a.Size == b.Size && a.ArtifactType == b.ArtifactType &&
		maps.Equal(a.Annotations, b.Annotations) && a.Platform == nil && b.Platform == nil
}

// Delete removes the entry of the name tag that lists h (tag "": the entry without ref name of
// h), with the referrer entries of what only it reached, and then the blobs that no entry
// reaches. Another entry of h keeps its content.
func (s *Store) Delete(_ context.Context, tag string, h v1.Hash) error {
	if _, err := s.readIndex(); isNotExist(err) {
		return nil
	}
	err := s.update(func(entries []v1.Descriptor) ([]v1.Descriptor, bool) {
		var out, removed []v1.Descriptor
		for _, e := range entries {
			if e.Digest == h && ownEntry(e, tag, h) {
				removed = append(removed, e)
				continue
			}
			out = append(out, e)
		}
		if len(removed) == 0 {
			return entries, false
		}
		return s.dropOrphanReferrers(removed, out), true
	})
	if err != nil {
		return err
	}
	return s.collect()
}

// Lease creates the layout if it is missing and holds the garbage collection lock shared until
// release, so that Delete in another mirror keeps the blobs written meanwhile.
func (s *Store) Lease(context.Context) (func(), error) {
	if err := s.ensure(); err != nil {
		return nil, err
	}
	unlock, err := filelock.Lock(filepath.Join(s.dir, gcLockFile), false)
	if err != nil {
		return nil, fmt.Errorf("locking layout %s: %w", s.display, err)
	}
	return unlock, nil
}
