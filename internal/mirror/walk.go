package mirror

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// The source tree walk: read the top manifest, then, for an index, its entries, deciding which
// are kept (selection.go) and reading those, nested indexes included.

// fetchTop reads the manifest the source names (by digest when it is pinned) and returns it as
// the root of the tree, with the descriptor the store gave (its annotations included).
func (e *Engine) fetchTop(ctx context.Context, src store.Location) (*node, v1.Descriptor, error) {
	ref := src.Digest
	if ref == "" {
		ref = src.Name
	}
	desc, raw, err := src.Store.Manifest(ctx, ref)
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	n := &node{desc: v1.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size}}
	if err := n.setManifest(raw, desc.MediaType); err != nil {
		return nil, v1.Descriptor{}, fmt.Errorf("source %s: %w", src, err)
	}
	if !n.isIndex {
		platform, err := e.imagePlatform(ctx, src.Store, n)
		if err != nil {
			return nil, v1.Descriptor{}, fmt.Errorf("source %s: %w", src, err)
		}
		n.platform = platform
	}
	return n, desc, nil
}

// fetch reads one manifest by digest from r, or from what the Engine read from r before
// (manifestcache.go); the store checks the bytes against the digest that the parent lists.
func (e *Engine) fetch(ctx context.Context, r store.Reader, n *node) error {
	if n.desc.Size > store.MaxManifestBytes {
		return fmt.Errorf("%s@%s: the index lists it with %d bytes, more than the %d bytes a registry may serve; it was not read",
			r, n.desc.Digest, n.desc.Size, store.MaxManifestBytes)
	}
	digest := n.desc.Digest.String()
	m, cached := e.manifests.get(r.String(), digest)
	if !cached {
		d, raw, err := r.Manifest(ctx, digest)
		if err != nil {
			return err
		}
		m = cachedManifest{mediaType: d.MediaType, raw: raw}
	}
	if err := n.setManifest(m.raw, m.mediaType); err != nil {
		return fmt.Errorf("%s@%s: %w", r, n.desc.Digest, err)
	}
	if !cached {
		e.manifests.put(r.String(), digest, m)
	}
	return nil
}

// imagePlatform reads the platform of a top-level image from its config blob.
func (e *Engine) imagePlatform(ctx context.Context, r store.Reader, n *node) (Platform, error) {
	var m v1.Manifest
	if err := json.Unmarshal(n.raw, &m); err != nil || !m.Config.MediaType.IsConfig() {
		return Platform{}, nil //nolint:nilerr // not an image config: an artifact has no platform
	}
	rc, err := r.Blob(ctx, m.Config)
	if err != nil {
		return Platform{}, fmt.Errorf("reading config blob: %w", err)
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, maxConfigBytes))
	if err != nil {
		return Platform{}, fmt.Errorf("reading config blob: %w", err)
	}
	var cfg struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
		Variant      string `json:"variant"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return Platform{}, fmt.Errorf("config blob does not parse: %w", err)
	}
	return Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}, nil
}

// walk reads the entries of an index node, decides which are kept and reads those.
func (e *Engine) walk(ctx context.Context, r store.Reader, n *node, sel *selector, depth int, path []v1.Hash) error {
	if !n.isIndex {
		return nil
	}
	manifests, err := n.indexEntries(depth)
	if err != nil {
		return err
	}
	path = append(path, n.desc.Digest)
	keptImages := map[string]bool{}
	for _, d := range manifests {
		if slices.Contains(path, d.Digest) {
			return fmt.Errorf("index %s lists %s, which contains it: the index graph has a loop", n.desc.Digest, d.Digest)
		}
		c := &node{desc: d, platform: platformOf(d.Platform)}
		c.attestation = d.Annotations[annotationReferenceType] == attestationManifest
		c.isIndex = d.MediaType.IsIndex()
		n.entries = append(n.entries, c)
		switch {
		case c.isIndex:
			if err := e.fetch(ctx, r, c); err != nil {
				return err
			}
			if err := e.walk(ctx, r, c, sel, depth+1, path); err != nil {
				return err
			}
			c.kept = slices.ContainsFunc(c.entries, func(x *node) bool { return x.kept })
		case c.attestation:
			// decided below, once the images of this index are known
		default:
			c.kept = sel.selects(c.platform)
			if c.kept {
				keptImages[d.Digest.String()] = true
			}
		}
	}
	for _, c := range n.entries {
		if c.attestation {
			c.kept = sel.attestations && keptImages[c.desc.Annotations[annotationReferenceDigest]]
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.jobs)
	for _, c := range n.entries {
		if c.kept && !c.isIndex {
			g.Go(func() error { return e.fetch(gctx, r, c) })
		}
	}
	return g.Wait()
}
