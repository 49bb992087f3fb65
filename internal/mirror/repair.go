package mirror

import (
	"context"
	"errors"
	"fmt"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// putManifest pushes n to the plan's target by digest.
//
// A target can refuse an index for lacking what it lists (a registry's MANIFEST_BLOB_UNKNOWN)
// although Apply found those manifests there a moment before (a HEAD answered from a stale cache,
// a garbage collection or a delete in between). Then putManifest copies what the index needs once
// more without trusting earlier answers, deepest first (the blobs of its images, each checked;
// its manifests, pushed whether or not the target says it has them), and pushes the index once
// more. It does so once per index, and not when the refusal names a manifest that the mirror does
// not copy (a sparse index that the target does not accept), or names none and the index is
// sparse.
func (e *Engine) putManifest(ctx context.Context, dst store.Target, n *node, p *Plan) error {
	err := dst.PushManifest(ctx, n.outDesc(), n.out)
	if err == nil || !n.isIndex || !missingChildren(n, p, err) {
		return err
	}
	e.log(ctx, "the target refused an index because manifests it lists are missing; copying them again", map[string]any{
		"index": n.outDigest, "target": dst.String(), "error": err.Error(),
	})
	if rerr := e.recopyBelow(ctx, dst, n, p); rerr != nil {
		return fmt.Errorf("%w (copying the manifests it lists again failed: %w)", err, rerr)
	}
	return dst.PushManifest(ctx, n.outDesc(), n.out)
}

// missingChildren tells whether err refuses the index n because manifests that the mirror
// copies are missing.
func missingChildren(n *node, p *Plan, err error) bool {
	var rejected *store.RejectedError
	if !errors.As(err, &rejected) || !rejected.Incomplete {
		return false
	}
	if len(rejected.Missing) == 0 {
		return !p.Sparse
	}
	kept := map[string]bool{}
	for _, c := range n.entries {
		if c.kept {
			kept[c.outDigest] = true
		}
	}
	for _, d := range rejected.Missing {
		if !kept[d.String()] {
			return false
		}
	}
	return true
}

// recopyBelow copies the blobs of the kept images below n (each one checked at the target) and
// pushes every kept manifest below n, deepest first, without asking whether the target has it.
func (e *Engine) recopyBelow(ctx context.Context, dst store.Target, n *node, p *Plan) error {
	var below []*node
	seen := map[string]bool{n.outDigest: true}
	n.visitKept(func(c *node) {
		if !seen[c.outDigest] {
			seen[c.outDigest] = true
			below = append(below, c) // visitKept lists children before their parents
		}
	})
	var scratch Stats
	if err := e.copyBlobs(ctx, p.src.Store, dst, blobsOf(below, nil), &scratch); err != nil {
		return err
	}
	for _, c := range below {
		if err := dst.PushManifest(ctx, c.outDesc(), c.out); err != nil {
			return err
		}
	}
	return nil
}
