package zarfpackage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
	"github.com/zarf-dev/terraform-provider-zarf/internal/store/layout"
)

// Store is the images of one Zarf package archive, read-only. On first use it opens the archive
// through the cache (unpacking and verifying it unless the cache holds its digest already), and
// from then on serves the unpacked images/ OCI image layout with layout.Store, bytes unchanged:
// an image is found by its original reference (org.opencontainers.image.base.name, as Zarf
// annotates it), and the referrers the layout holds are listed with it.
type Store struct {
	archive string // as the reference writes it
	cache   *Cache
	noCache error

	mu     sync.Mutex
	opened bool
	pkg    *Package
	images *layout.Store
	err    error
}

var _ store.Reader = (*Store)(nil)

// String is the package as references name it: zarf-package://<archive>.
func (s *Store) String() string { return Prefix + s.archive }

// open opens the archive on the first call and returns what it opened. A Store opens its archive
// once: the engine opens a new Store for every operation, so a new archive at the same path is
// noticed by the next plan.
func (s *Store) open(ctx context.Context) (*layout.Store, *Package, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.opened {
		s.opened = true
		s.images, s.pkg, s.err = s.unpack(ctx)
	}
	return s.images, s.pkg, s.err
}

func (s *Store) unpack(ctx context.Context) (*layout.Store, *Package, error) {
	if s.cache == nil {
		return nil, nil, fmt.Errorf("cannot read Zarf package %s: no directory to unpack it into (%w); set cache_dir in the zarf provider block",
			s.archive, s.noCache)
	}
	p, err := s.cache.Open(ctx, s.archive)
	if err != nil {
		return nil, nil, err
	}
	images, err := layout.Open(p.ImagesDir())
	if err != nil {
		return nil, nil, err
	}
	return images, p, nil
}

// Resolve returns the descriptor of the image that ref (its original reference, or a digest)
// names, with the annotations of its index.json entry.
func (s *Store) Resolve(ctx context.Context, ref string) (v1.Descriptor, error) {
	d, _, err := s.Manifest(ctx, ref)
	return d, err
}

// Manifest returns the bytes of the manifest that ref names, checked against its digest.
func (s *Store) Manifest(ctx context.Context, ref string) (v1.Descriptor, []byte, error) {
	images, p, err := s.open(ctx)
	if err != nil {
		return v1.Descriptor{}, nil, err
	}
	d, raw, err := images.Manifest(ctx, ref)
	if err != nil {
		return v1.Descriptor{}, nil, s.explain(p, ref, err)
	}
	return d, raw, nil
}

// Blob opens a blob of the package's images.
func (s *Store) Blob(ctx context.Context, d v1.Descriptor) (io.ReadCloser, error) {
	images, _, err := s.open(ctx)
	if err != nil {
		return nil, err
	}
	rc, err := images.Blob(ctx, d)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s, err)
	}
	return rc, nil
}

// Referrers lists the referrers of subject that the package holds (signatures, attestations,
// SBOMs Zarf pulled with the image).
func (s *Store) Referrers(ctx context.Context, subject v1.Hash) ([]v1.Descriptor, error) {
	images, _, err := s.open(ctx)
	if err != nil {
		return nil, err
	}
	return images.Referrers(ctx, subject)
}

// Tags lists the names of the package's index.json entries.
func (s *Store) Tags(ctx context.Context) ([]string, error) {
	images, _, err := s.open(ctx)
	if err != nil {
		return nil, err
	}
	return images.Tags(ctx)
}

// explain words an error of the images layout in terms of the package: a reference to an
// image that the package does not hold lists those it holds.
func (s *Store) explain(p *Package, ref string, err error) error {
	if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%s: %w", s, err)
	}
	images := p.Config.Images()
	if _, notDigest := v1.NewHash(ref); notDigest != nil && listsImage(images, ref) {
		return fmt.Errorf("the Zarf package %s lists image %q in zarf.yaml, but cannot serve it: %w", s.archive, ref, err)
	}
	held := strings.Join(images, ", ")
	if held == "" {
		held = "none"
	}
	return fmt.Errorf("the Zarf package %s (%s %s, archive digest %s) holds no image %s; the images it holds are: %s. "+
		"Write %s%s:<one of them>, as data.zarf_package lists them in images: %w",
		s.archive, p.Config.Name, p.Config.Version, p.Digest, ref, held, Prefix, s.archive, store.ErrNotFound)
}

// listsImage reports whether images holds ref, the two written alike once normalised
// (nginx:1.27 = docker.io/library/nginx:1.27).
func listsImage(images []string, ref string) bool {
	want, err := name.ParseReference(ref)
	if err != nil {
		return false
	}
	for _, image := range images {
		if r, err := name.ParseReference(image); err == nil && r.Name() == want.Name() {
			return true
		}
	}
	return false
}
