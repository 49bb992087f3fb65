package memory

// What tests do with a Store besides the store.Target methods: inject failures, count calls,
// put content in, look inside, simulate drift. None of it is counted as a call.

import (
	"bytes"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// PutBlob stores b as a blob of the repository (test content) and returns its descriptor.
func (s *Store) PutBlob(b []byte, mediaType types.MediaType) v1.Descriptor {
	d := v1.Descriptor{MediaType: mediaType, Digest: store.Digest(b), Size: int64(len(b))}
	s.reg.mu.Lock()
	s.reg.blobs[d.Digest] = bytes.Clone(b)
	s.reg.mu.Unlock()
	s.link(d.Digest)
	return d
}

// FailWith makes every call for which f returns an error fail with it (nil: no failures). f
// gets the operation and its argument: the ref, digest or tag asked for.
func (s *Store) FailWith(f func(op Op, arg string) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = f
}

// DisallowDeletes makes Delete fail with store.ErrUnsupported, as a registry with deletes
// disabled does.
func (s *Store) DisallowDeletes() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noDelete = true
}

// Calls returns how often op was called since the last ResetCalls.
func (s *Store) Calls(op Op) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// TotalCalls returns how many calls of any operation were made since the last ResetCalls.
func (s *Store) TotalCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		n += c
	}
	return n
}

// ResetCalls sets every call count to zero.
func (s *Store) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.calls)
}

// HasManifest reports whether the repository holds the manifest (for test assertions; it is not
// counted as a call).
func (s *Store) HasManifest(h v1.Hash) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.manifests[h]
	return ok
}

// RawManifest returns the bytes of a manifest the repository holds (for test assertions; it is
// not counted as a call).
func (s *Store) RawManifest(h v1.Hash) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.manifests[h]
	return bytes.Clone(m.raw), ok
}

// DeleteManifest removes a manifest, leaving the tags that point at it dangling (drift
// simulation; not counted as a call).
func (s *Store) DeleteManifest(h v1.Hash) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.manifests, h)
}

// DeleteBlob unlinks a blob from the repository (drift simulation; not counted as a call).
func (s *Store) DeleteBlob(h v1.Hash) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.blobs, h)
}
