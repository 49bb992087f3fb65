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
