package memory

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// PushBlob links a blob the repository lacks: mounted when src is another repository of the same
// Registry that holds it, else read from src and verified against d.
func (s *Store) PushBlob(ctx context.Context, d v1.Descriptor, src store.Reader) (store.BlobPush, error) {
	s.mu.Lock()
	err := s.enter(OpPushBlob, d.Digest.String())
	have := s.blobs[d.Digest]
	s.mu.Unlock()
	switch {
	case err != nil:
		return store.BlobPush{}, err
	case have:
		return store.BlobPush{How: store.BlobSkipped}, nil
	}
	if m, ok := src.(store.Mountable); ok && m.Registry() == s.reg.name && m.Repository() != s.repo {
		from := s.reg.Repository(m.Repository())
		from.mu.Lock()
		mountable := from.blobs[d.Digest]
		from.mu.Unlock()
		if mountable {
			s.link(d.Digest)
			return store.BlobPush{How: store.BlobMounted}, nil
		}
	}
	rc, err := src.Blob(ctx, d)
	if err != nil {
		return store.BlobPush{}, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, d.Size+1))
	if err != nil {
		return store.BlobPush{}, err
	}
	if int64(len(b)) != d.Size || store.Digest(b) != d.Digest {
		return store.BlobPush{}, fmt.Errorf("%s: blob %s: the source sent %d bytes with digest %s, expected %d bytes",
			s, d.Digest, len(b), store.Digest(b), d.Size)
	}
	s.reg.mu.Lock()
	s.reg.blobs[d.Digest] = b
	s.reg.mu.Unlock()
	s.link(d.Digest)
	return store.BlobPush{How: store.BlobUploaded, Uploaded: int64(len(b))}, nil
}

func (s *Store) link(h v1.Hash) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blobs[h] = true
}

// PushManifest stores the bytes by their digest. Like a registry's, it refuses a manifest whose
// digest is not d's, and one that lists blobs or manifests the repository does not hold.
func (s *Store) PushManifest(_ context.Context, d v1.Descriptor, raw []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter(OpPushManifest, d.Digest.String()); err != nil {
		return err
	}
	if got := store.Digest(raw); got != d.Digest {
		return fmt.Errorf("%s: manifest %s: the bytes have the digest %s", s, d.Digest, got)
	}
	if len(raw) > store.MaxManifestBytes {
		return fmt.Errorf("%s: manifest %s is larger than %d bytes", s, d.Digest, store.MaxManifestBytes)
	}
	var doc struct {
		MediaType types.MediaType `json:"mediaType"`
		Config    *v1.Descriptor  `json:"config"`
		Layers    []v1.Descriptor `json:"layers"`
		Manifests []v1.Descriptor `json:"manifests"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("%s: manifest %s does not parse: %w", s, d.Digest, err)
	}
	var missing []v1.Hash
	if doc.Config != nil && !s.blobs[doc.Config.Digest] {
		missing = append(missing, doc.Config.Digest)
	}
	for _, l := range doc.Layers {
		if !s.blobs[l.Digest] {
			missing = append(missing, l.Digest)
		}
	}
	for _, m := range doc.Manifests {
		if _, ok := s.manifests[m.Digest]; !ok {
			missing = append(missing, m.Digest)
		}
	}
	if len(missing) > 0 {
		return &store.RejectedError{Incomplete: true, Missing: missing,
			Err: fmt.Errorf("%s: manifest %s lists what the repository does not hold: %v: %w", s, d.Digest, missing, store.ErrNotFound)}
	}
	mt := d.MediaType
	if mt == "" {
		mt = doc.MediaType
	}
	s.manifests[d.Digest] = manifest{mediaType: mt, raw: bytes.Clone(raw)}
	return nil
}

// Tag names the manifest; the descriptor's annotations are kept and returned by Resolve.
func (s *Store) Tag(_ context.Context, tag string, d v1.Descriptor, _ []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter(OpTag, tag); err != nil {
		return err
	}
	m, ok := s.manifests[d.Digest]
	if !ok {
		return s.notFound("manifest " + d.Digest.String())
	}
	d.MediaType, d.Size = m.mediaType, int64(len(m.raw))
	if tag == "" {
		s.roots[d.Digest] = d
		return nil
	}
	s.tags[tag] = d
	return nil
}

// Delete removes the tag (tag "": the root record of h) and, unless another tag points at h,
// the manifest with every tag of it, as a registry deletes a manifest by digest.
func (s *Store) Delete(_ context.Context, tag string, h v1.Hash) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter(OpDelete, tag+"@"+h.String()); err != nil {
		return err
	}
	if s.noDelete {
		return fmt.Errorf("%s: deleting %s: %w", s, h, store.ErrUnsupported)
	}
	if tag == "" {
		delete(s.roots, h)
	} else if d, ok := s.tags[tag]; ok && d.Digest == h {
		delete(s.tags, tag)
	}
	for _, d := range s.tags {
		if d.Digest == h {
			return nil // another tag keeps it
		}
	}
	delete(s.manifests, h)
	delete(s.roots, h)
	return nil
}

// Lease does nothing but count the call: the store collects no garbage.
func (s *Store) Lease(context.Context) (func(), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter(OpLease, ""); err != nil {
		return nil, err
	}
	return func() {}, nil
}
