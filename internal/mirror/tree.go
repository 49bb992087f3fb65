package mirror

import (
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// Limits against broken or hostile sources.
const (
	// MaxIndexEntries bounds the entries of one index (and the referrers of one manifest).
	MaxIndexEntries = 1024
	// MaxNestingDepth bounds how deep indexes may nest.
	MaxNestingDepth = 8
	maxConfigBytes  = 1 << 20
)

// BuildKit marks attestation manifests in an index with these annotations.
const (
	annotationReferenceType   = "vnd.docker.reference.type"
	annotationReferenceDigest = "vnd.docker.reference.digest"
	attestationManifest       = "attestation-manifest"
)

// node is one manifest of the source tree.
type node struct {
	desc        v1.Descriptor // as the parent lists it (for the top: what the source resolved to)
	raw         []byte        // the bytes as read, verified against desc.Digest by the store
	isIndex     bool
	platform    Platform
	attestation bool
	kept        bool
	entries     []*node         // every entry of an index, in index order
	blobs       []v1.Descriptor // config and layers of an image manifest

	out       []byte // the bytes the target gets
	outDigest string
}

// outDesc describes the manifest the target gets.
func (n *node) outDesc() v1.Descriptor {
	h, _ := v1.NewHash(n.outDigest) // computed by store.Digest: always valid
	return v1.Descriptor{MediaType: n.desc.MediaType, Digest: h, Size: int64(len(n.out))}
}

// setManifest takes the bytes of the manifest and the media type the store serves it with, and
// parses what the walk needs: whether it is an index, and the blobs of an image.
func (n *node) setManifest(raw []byte, mt types.MediaType) error {
	if len(raw) > store.MaxManifestBytes {
		return fmt.Errorf("manifest is %d bytes, more than the %d bytes a registry may serve", len(raw), store.MaxManifestBytes)
	}
	n.raw = raw
	if n.desc.MediaType == "" {
		n.desc.MediaType = mt
	}
	if n.desc.MediaType.IsIndex() != mt.IsIndex() {
		return fmt.Errorf("the index lists it as %s, but the source serves %s; the source is inconsistent", n.desc.MediaType, mt)
	}
	switch {
	case mt.IsSchema1():
		return fmt.Errorf("docker schema 1 manifests (%s) are not supported; rebuild or re-push the image with a current client", mt)
	case mt.IsIndex():
		n.isIndex = true
		return nil
	}
	var m v1.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("manifest of media type %q does not parse: %w", mt, err)
	}
	if m.Config.Digest.Hex != "" {
		n.blobs = append(n.blobs, m.Config)
	}
	n.blobs = append(n.blobs, m.Layers...)
	for _, b := range n.blobs {
		if b.Digest.Algorithm != "sha256" {
			return fmt.Errorf("blob digest %q is not sha256; only sha256 digests are supported", b.Digest)
		}
	}
	return nil
}

// indexEntries parses the entries of the index n, found depth levels below the top, within the
// limits against broken or hostile sources.
func (n *node) indexEntries(depth int) ([]v1.Descriptor, error) {
	if depth >= MaxNestingDepth {
		return nil, fmt.Errorf("index %s is nested deeper than %d levels", n.desc.Digest, MaxNestingDepth)
	}
	var im v1.IndexManifest
	if err := json.Unmarshal(n.raw, &im); err != nil {
		return nil, fmt.Errorf("index %s does not parse: %w", n.desc.Digest, err)
	}
	if len(im.Manifests) > MaxIndexEntries {
		return nil, fmt.Errorf("index %s lists %d entries, more than the %d this provider accepts", n.desc.Digest, len(im.Manifests), MaxIndexEntries)
	}
	for _, d := range im.Manifests {
		if d.Digest.Algorithm != "sha256" {
			return nil, fmt.Errorf("index %s lists digest %q; only sha256 digests are supported", n.desc.Digest, d.Digest)
		}
	}
	return im.Manifests, nil
}

// visitKept calls f for every kept node below n, children before their parents, and then for n.
func (n *node) visitKept(f func(*node)) {
	for _, c := range n.entries {
		if c.kept {
			c.visitKept(f)
		}
	}
	f(n)
}
