package mirror

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// manifestBlobUnknown is the error code with which registries refuse a manifest that lists
// something they do not hold; distribution names the missing digest in the detail.
const manifestBlobUnknown = "MANIFEST_BLOB_UNKNOWN"

// putManifest pushes n to dst by digest.
//
// A target can refuse an index with MANIFEST_BLOB_UNKNOWN although Apply found the manifests it
// lists there a moment before (a HEAD answered from a stale cache, a garbage collection or a
// delete in between). Then putManifest copies what the index needs once more without trusting
// earlier answers, deepest first (the blobs of its images, each checked; its manifests, pushed
// whether or not the target says it has them), and pushes the index once more. It does so once
// per index, and not when the refusal names a manifest that the mirror does not copy (a sparse
// index that the registry does not accept), or names none and the index is sparse.
func (e *Engine) putManifest(ctx context.Context, t *transfers, dst name.Repository, n *node, p *Plan) error {
	ref := dst.Digest(n.outDigest)
	err := t.pusher.Put(ctx, ref, rawManifest{n.out, n.desc.MediaType})
	if err == nil || !n.isIndex || !missingChildren(n, p, err) {
		return err
	}
	e.log(ctx, "the target refused an index because manifests it lists are missing; copying them again", map[string]any{
		"index": ref.String(), "error": err.Error(),
	})
	if rerr := e.recopyBelow(ctx, t, dst, n, p); rerr != nil {
		return fmt.Errorf("%w (copying the manifests it lists again failed: %w)", err, rerr)
	}
	return t.pusher.Put(ctx, ref, rawManifest{n.out, n.desc.MediaType})
}

// missingChildren tells whether err refuses the index n because manifests that the mirror
// copies are missing.
func missingChildren(n *node, p *Plan, err error) bool {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return false
	}
	refused := false
	var named []string
	for _, d := range terr.Errors {
		if d.Code != manifestBlobUnknown {
			continue
		}
		refused = true
		if s, ok := d.Detail.(string); ok && strings.HasPrefix(s, "sha256:") {
			named = append(named, s)
		}
	}
	if !refused {
		return false
	}
	if len(named) == 0 {
		return !p.Sparse
	}
	kept := map[string]bool{}
	for _, c := range n.entries {
		if c.kept {
			kept[c.outDigest] = true
		}
	}
	for _, d := range named {
		if !kept[d] {
			return false
		}
	}
	return true
}

// recopyBelow copies the blobs of the kept images below n (each one checked at the target) and
// pushes every kept manifest below n, deepest first, without asking whether the target has it.
func (e *Engine) recopyBelow(ctx context.Context, t *transfers, dst name.Repository, n *node, p *Plan) error {
	var below []*node
	seen := map[string]bool{n.outDigest: true}
	n.visitKept(func(c *node) {
		if !seen[c.outDigest] {
			seen[c.outDigest] = true
			below = append(below, c) // visitKept lists children before their parents
		}
	})
	blobs := map[string]bool{}
	for _, c := range below {
		for _, b := range c.blobs {
			blobs[b.Digest.String()] = true
		}
	}
	var scratch Stats
	if err := e.copyBlobs(ctx, t, p.src.Repo, dst, p.blobsAmong(blobs), &scratch); err != nil {
		return err
	}
	for _, c := range below {
		ref := dst.Digest(c.outDigest)
		if err := t.pusher.Put(ctx, ref, rawManifest{c.out, c.desc.MediaType}); err != nil {
			return e.explain("pushing", ref, err)
		}
	}
	return nil
}

// blobsAmong lists the blobs of the plan whose digests are in want, once each.
func (p *Plan) blobsAmong(want map[string]bool) []v1.Descriptor {
	var out []v1.Descriptor
	for _, b := range p.blobs() {
		if want[b.Digest.String()] {
			out = append(out, b)
		}
	}
	return out
}
