package registrytest

import (
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// randomLayer is a layer of seeded pseudo-random bytes. Its content is generated anew on
// every read, so a layer of any size streams in constant memory. Registries do not look
// inside layers, so the bytes need not be a real (compressed) tarball.
type randomLayer struct {
	seed      [32]byte
	size      int64
	mediaType types.MediaType
	digest    v1.Hash
}

var _ v1.Layer = (*randomLayer)(nil)

// newRandomLayer returns the layer whose content is determined by label and size, reading
// it once to compute its digest.
func newRandomLayer(label string, size int64, mediaType types.MediaType) (*randomLayer, error) {
	l := &randomLayer{seed: sha256.Sum256([]byte(label)), size: size, mediaType: mediaType}
	digest, _, err := v1.SHA256(l.content())
	if err != nil {
		return nil, fmt.Errorf("hashing layer %q: %w", label, err)
	}
	l.digest = digest
	return l, nil
}

func (l *randomLayer) content() io.Reader {
	return io.LimitReader(rand.NewChaCha8(l.seed), l.size)
}

// Digest implements v1.Layer.
func (l *randomLayer) Digest() (v1.Hash, error) { return l.digest, nil }

// DiffID implements v1.Layer: the content is its own "uncompressed" form.
func (l *randomLayer) DiffID() (v1.Hash, error) { return l.digest, nil }

// Compressed implements v1.Layer.
func (l *randomLayer) Compressed() (io.ReadCloser, error) { return io.NopCloser(l.content()), nil }

// Uncompressed implements v1.Layer.
func (l *randomLayer) Uncompressed() (io.ReadCloser, error) { return l.Compressed() }

// Size implements v1.Layer.
func (l *randomLayer) Size() (int64, error) { return l.size, nil }

// MediaType implements v1.Layer.
func (l *randomLayer) MediaType() (types.MediaType, error) { return l.mediaType, nil }
