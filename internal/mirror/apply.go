package mirror

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// Apply copies what the plan computed: blobs first, then image manifests by digest, then nested
// indexes, then the top manifest by digest and the tag last, so a reader never sees an index
// whose content is missing. Content already at the target is not uploaded again. After the tag
// is written it is read back and must point at the planned digest.
func (e *Engine) Apply(ctx context.Context, p *Plan) (Stats, error) {
	var st Stats
	if p.Spec.Target == "" {
		return st, errors.New("the plan has no target")
	}
	dst := p.target.Repo
	blobs := p.blobs()
	e.log(ctx, "copying blobs", map[string]any{"target": p.TargetRepository, "blobs": len(blobs)})
	if err := e.copyBlobs(ctx, p.src.Repo, dst, blobs); err != nil {
		return st, err
	}
	st.Blobs = len(blobs)
	for _, b := range blobs {
		st.BlobBytes += b.Size
	}
	// Manifests level by level, deepest first: every level only references what is below it.
	for _, level := range p.levels() {
		pushed, err := e.pushManifests(ctx, dst, level, p)
		st.ManifestsPushed += pushed
		st.ManifestsSkipped += len(level) - pushed
		if err != nil {
			return st, err
		}
	}
	if p.TargetTag != "" {
		tag := dst.Tag(p.TargetTag)
		if err := remote.Put(tag, rawManifest{p.root.out, p.root.desc.MediaType}, e.remote(ctx)...); err != nil {
			return st, e.explain("tagging", tag, err)
		}
		got, err := remote.Head(tag, e.remote(ctx)...)
		if err != nil {
			return st, e.explain("reading back", tag, err)
		}
		if got.Digest.String() != p.Digest {
			return st, fmt.Errorf("after pushing, %s points at %s instead of %s: something else wrote the tag at the same time", tag, got.Digest, p.Digest)
		}
	}
	e.log(ctx, "mirror complete", map[string]any{
		"ref": p.Ref(), "blobs": st.Blobs, "bytes": st.BlobBytes,
		"manifests_pushed": st.ManifestsPushed, "manifests_skipped": st.ManifestsSkipped,
	})
	return st, nil
}

// blobs lists the distinct blobs of the kept images.
func (p *Plan) blobs() []v1.Descriptor {
	seen := map[v1.Hash]bool{}
	var out []v1.Descriptor
	p.root.visitKept(func(n *node) {
		for _, b := range n.blobs {
			if !seen[b.Digest] {
				seen[b.Digest] = true
				out = append(out, b)
			}
		}
	})
	return out
}

// levels groups the kept manifests by height: images first, then the indexes that list only
// images, and so on up to the top.
func (p *Plan) levels() [][]*node {
	var levels [][]*node
	seen := map[string]bool{}
	var height func(n *node) int
	height = func(n *node) int {
		h := 0
		for _, c := range n.entries {
			if c.kept {
				h = max(h, height(c)+1)
			}
		}
		if !seen[n.outDigest] {
			seen[n.outDigest] = true
			for len(levels) <= h {
				levels = append(levels, nil)
			}
			levels[h] = append(levels[h], n)
		}
		return h
	}
	height(p.root)
	return levels
}

func (n *node) visitKept(f func(*node)) {
	for _, c := range n.entries {
		if c.kept {
			c.visitKept(f)
		}
	}
	f(n)
}

func (e *Engine) copyBlobs(ctx context.Context, src, dst name.Repository, blobs []v1.Descriptor) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.jobs)
	for _, b := range blobs {
		g.Go(func() error {
			l, err := remote.Layer(src.Digest(b.Digest.String()), e.remote(gctx)...)
			if err != nil {
				return fmt.Errorf("reading blob %s from %s: %w", b.Digest, src, err)
			}
			if err := remote.WriteLayer(dst, l, e.remote(gctx)...); err != nil {
				return fmt.Errorf("copying blob %s to %s: %w", b.Digest, dst, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// pushManifests pushes manifests by digest, skipping those the target already has. It returns
// how many it pushed.
func (e *Engine) pushManifests(ctx context.Context, dst name.Repository, nodes []*node, p *Plan) (int, error) {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.jobs)
	pushed := make([]bool, len(nodes))
	for i, n := range nodes {
		g.Go(func() error {
			ref := dst.Digest(n.outDigest)
			exists, err := e.manifestExists(gctx, ref)
			if err != nil || exists {
				return err
			}
			if err := remote.Put(ref, rawManifest{n.out, n.desc.MediaType}, e.remote(gctx)...); err != nil {
				if n.isIndex && p.Sparse && isManifestRejection(err) {
					return &SparseIndexRejectedError{Target: p.TargetRepository, Err: err}
				}
				return e.explain("pushing", ref, err)
			}
			pushed[i] = true
			return nil
		})
	}
	err := g.Wait()
	count := 0
	for _, ok := range pushed {
		if ok {
			count++
		}
	}
	return count, err
}

func (e *Engine) manifestExists(ctx context.Context, ref name.Reference) (bool, error) {
	_, err := remote.Head(ref, e.remote(ctx)...)
	if err == nil {
		return true, nil
	}
	if isNotFound(err) {
		return false, nil
	}
	return false, e.explain("checking", ref, err)
}

func isNotFound(err error) bool {
	var terr *transport.Error
	return errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound
}

// isManifestRejection recognises a registry refusing an index because children are missing.
func isManifestRejection(err error) bool {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return false
	}
	for _, d := range terr.Errors {
		switch d.Code {
		case transport.ManifestUnknownErrorCode, "MANIFEST_BLOB_UNKNOWN", transport.ManifestInvalidErrorCode, transport.BlobUnknownErrorCode:
			return true
		}
	}
	return terr.StatusCode == http.StatusBadRequest
}

// rawManifest pushes bytes unchanged with their media type.
type rawManifest struct {
	raw       []byte
	mediaType types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.raw, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mediaType, nil }
