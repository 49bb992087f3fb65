// Package memory is a store.Target held in memory: registries of repositories, with
// manifests, blobs, tags and referrers, and blob mounts between repositories of one registry.
// Engine unit tests use it to run the engine's one code path without a registry process, count
// what the engine asks for, and inject failures. A Registry is also a store.Scheme, so the
// engine opens its repositories from references "memory://<registry>/<repository>[:<tag>][@<digest>]".
package memory

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// Registry is a set of repositories that share their blobs, as a registry's do: a blob pushed to
// one repository can be mounted into another.
type Registry struct {
	name string

	mu    sync.Mutex
	repos map[string]*Store
	blobs map[v1.Hash][]byte
}

// NewRegistry returns an empty registry; name is its host as messages show it.
func NewRegistry(name string) *Registry {
	return &Registry{name: name, repos: map[string]*Store{}, blobs: map[v1.Hash][]byte{}}
}

// Repository returns the repository with this name, created empty on first use.
func (r *Registry) Repository(name string) *Store {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.repos[name]
	if s == nil {
		s = &Store{reg: r, repo: name, manifests: map[v1.Hash]manifest{}, tags: map[string]v1.Descriptor{},
			roots: map[v1.Hash]v1.Descriptor{}, blobs: map[v1.Hash]bool{}, calls: map[Op]int{}}
		r.repos[name] = s
	}
	return s
}

// New returns the repository "repo" of a registry of its own named "memory.invalid".
func New(repo string) *Store { return NewRegistry("memory.invalid").Repository(repo) }

// Op names a method of Store, for counting calls and injecting failures.
type Op string

// The operations of a Store.
const (
	OpResolve      Op = "Resolve"
	OpManifest     Op = "Manifest"
	OpBlob         Op = "Blob"
	OpReferrers    Op = "Referrers"
	OpTags         Op = "Tags"
	OpPushBlob     Op = "PushBlob"
	OpPushManifest Op = "PushManifest"
	OpTag          Op = "Tag"
	OpDelete       Op = "Delete"
	OpLease        Op = "Lease"
)

// Store is one repository of a Registry. It implements store.Target and store.Mountable, and is
// safe for concurrent use.
type Store struct {
	reg  *Registry
	repo string

	mu        sync.Mutex
	manifests map[v1.Hash]manifest
	tags      map[string]v1.Descriptor
	roots     map[v1.Hash]v1.Descriptor // recorded by Tag with no name
	blobs     map[v1.Hash]bool          // blobs of the registry linked into this repository
	calls     map[Op]int
	fail      func(op Op, arg string) error
	noDelete  bool
}

type manifest struct {
	mediaType types.MediaType
	raw       []byte
}

var (
	_ store.Target    = (*Store)(nil)
	_ store.Mountable = (*Store)(nil)
)

// String is the repository as references name it: memory://<registry>/<repository>.
func (s *Store) String() string { return Prefix + s.reg.name + "/" + s.repo }

// Registry is the name of the registry the repository belongs to.
func (s *Store) Registry() string { return s.reg.name }

// Repository is the repository's name.
func (s *Store) Repository() string { return s.repo }

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

// enter counts a call and returns the injected failure, if any. The caller holds s.mu.
func (s *Store) enter(op Op, arg string) error {
	s.calls[op]++
	if s.fail != nil {
		return s.fail(op, arg)
	}
	return nil
}

func (s *Store) notFound(what string) error {
	return fmt.Errorf("%s: %s: %w", s, what, store.ErrNotFound)
}

// lookup finds the manifest a tag or digest names. The caller holds s.mu.
func (s *Store) lookup(ref string) (v1.Descriptor, manifest, error) {
	var d v1.Descriptor
	if h, err := v1.NewHash(ref); err == nil {
		d.Digest = h
	} else if t, ok := s.tags[ref]; ok {
		d = t
	} else {
		return v1.Descriptor{}, manifest{}, s.notFound("tag " + ref)
	}
	m, ok := s.manifests[d.Digest]
	if !ok {
		return v1.Descriptor{}, manifest{}, s.notFound("manifest " + d.Digest.String())
	}
	d.MediaType, d.Size = m.mediaType, int64(len(m.raw))
	return d, m, nil
}

// Resolve returns the descriptor that a tag or digest names, with the annotations given to Tag.
func (s *Store) Resolve(_ context.Context, ref string) (v1.Descriptor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter(OpResolve, ref); err != nil {
		return v1.Descriptor{}, err
	}
	d, _, err := s.lookup(ref)
	return d, err
}

// Manifest returns the bytes of the manifest a tag or digest names.
func (s *Store) Manifest(_ context.Context, ref string) (v1.Descriptor, []byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter(OpManifest, ref); err != nil {
		return v1.Descriptor{}, nil, err
	}
	d, m, err := s.lookup(ref)
	if err != nil {
		return v1.Descriptor{}, nil, err
	}
	return d, bytes.Clone(m.raw), nil
}

// Blob opens a blob linked into this repository.
func (s *Store) Blob(_ context.Context, d v1.Descriptor) (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter(OpBlob, d.Digest.String()); err != nil {
		return nil, err
	}
	if !s.blobs[d.Digest] {
		return nil, s.notFound("blob " + d.Digest.String())
	}
	s.reg.mu.Lock()
	b := s.reg.blobs[d.Digest]
	s.reg.mu.Unlock()
	return io.NopCloser(bytes.NewReader(b)), nil
}

// Referrers lists the manifests of the repository whose subject is the given digest, ordered by
// digest, as the OCI referrers API reports them.
func (s *Store) Referrers(_ context.Context, subject v1.Hash) ([]v1.Descriptor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter(OpReferrers, subject.String()); err != nil {
		return nil, err
	}
	out := []v1.Descriptor{}
	for h, m := range s.manifests {
		if of, ok := store.Subject(m.raw); !ok || of != subject {
			continue
		}
		var doc struct {
			Annotations map[string]string `json:"annotations"`
		}
		_ = json.Unmarshal(m.raw, &doc) // it parsed for store.Subject
		out = append(out, v1.Descriptor{MediaType: m.mediaType, Digest: h, Size: int64(len(m.raw)),
			ArtifactType: store.ArtifactType(m.raw), Annotations: doc.Annotations})
	}
	slices.SortFunc(out, func(a, b v1.Descriptor) int { return strings.Compare(a.Digest.String(), b.Digest.String()) })
	return out, nil
}

// Tags lists the tags in byte order.
func (s *Store) Tags(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter(OpTags, ""); err != nil {
		return nil, err
	}
	tags := make([]string, 0, len(s.tags))
	for t := range s.tags {
		tags = append(tags, t)
	}
	slices.Sort(tags)
	return tags, nil
}

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

// PutBlob stores b as a blob of the repository (test content) and returns its descriptor.
func (s *Store) PutBlob(b []byte, mediaType types.MediaType) v1.Descriptor {
	d := v1.Descriptor{MediaType: mediaType, Digest: store.Digest(b), Size: int64(len(b))}
	s.reg.mu.Lock()
	s.reg.blobs[d.Digest] = bytes.Clone(b)
	s.reg.mu.Unlock()
	s.link(d.Digest)
	return d
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
