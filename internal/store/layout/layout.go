// Package layout is the OCI image layout store: a directory with an oci-layout file, an
// index.json and blobs/sha256/<hex>, as the OCI image specification defines it and as a Zarf
// package's images/ folder holds it. It reads and writes such a directory as a store.Target, so
// that the engine copies into and out of it as it does with a registry repository.
//
// What a layout calls a ref name (org.opencontainers.image.ref.name of an index.json entry)
// plays the part of a tag. Names are looked up by ref name, else by the entry's original image
// reference (org.opencontainers.image.base.name), so that images in a Zarf package are found by
// the names the package was built from. Referrers are index.json entries of their own: an OCI
// referrer (a manifest with a subject) as an entry without ref name, a cosign signature,
// attestation or SBOM under its cosign tag; an entry under a fallback tag "sha256-<hex>" (as a
// registry without the referrers API keeps them) is read too.
//
// Several writers may share a layout (Terraform applies mirrors in parallel, possibly from
// several processes): index.json is edited under an exclusive lock (index.lock) and replaced
// atomically (a temporary file, then a rename), so no update is lost; blobs are written the same
// way, verified against their digest. Writers hold a shared lock (gc.lock, see Lease) from their
// first blob to their index.json entry; the garbage collection that Delete runs holds it
// exclusively, so it never removes the blobs of a mirror that has not written its entry yet.
package layout

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

const (
	layoutFile    = "oci-layout"
	indexFile     = "index.json"
	layoutVersion = `{"imageLayoutVersion":"1.0.0"}`
	indexLockFile = "index.lock"
	gcLockFile    = "gc.lock"
)

// Store is one layout directory. Its methods are safe for concurrent use, also with other Stores
// and other processes on the same directory.
type Store struct {
	display string // the path as written
	dir     string // absolute
}

var _ store.Target = (*Store)(nil)

// Open returns the layout at path (which need not exist yet: writing creates it).
func Open(path string) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	return &Store{display: path, dir: abs}, nil
}

// String is the layout as references name it: oci-layout://<path>.
func (s *Store) String() string { return Prefix + s.display }

func (s *Store) blobPath(h v1.Hash) string {
	return filepath.Join(s.dir, "blobs", h.Algorithm, h.Hex)
}

// hasBlob reports whether the blob is there with the given size (-1: any size).
func (s *Store) hasBlob(h v1.Hash, size int64) bool {
	fi, err := os.Stat(s.blobPath(h))
	return err == nil && fi.Mode().IsRegular() && (size < 0 || fi.Size() == size)
}

// notFound is the error for what the layout does not hold.
func (s *Store) notFound(format string, args ...any) error {
	return fmt.Errorf("layout %s %s: %w", s.display, fmt.Sprintf(format, args...), store.ErrNotFound)
}

// notALayout is the error for a directory without index.json.
func (s *Store) notALayout() error {
	return fmt.Errorf("%s is not an OCI image layout (it has no index.json): %w", s.display, store.ErrNotFound)
}

// isNotExist reports whether err says that a file does not exist.
func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// describeEntry names an index.json entry for a message.
func describeEntry(d v1.Descriptor) string {
	var parts []string
	if r := d.Annotations[store.AnnotationRefName]; r != "" {
		parts = append(parts, fmt.Sprintf("ref %q", r))
	}
	if b := d.Annotations[store.AnnotationBaseName]; b != "" {
		parts = append(parts, fmt.Sprintf("image %q", b))
	}
	parts = append(parts, d.Digest.String())
	return strings.Join(parts, ", ")
}
