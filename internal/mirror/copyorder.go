package mirror

import (
	"cmp"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The copy order: blobs first, largest first; then manifests level by level, deepest first, so
// that every level only references what is already at the target; the tag last.

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

// blobs lists the distinct blobs of the kept images.
func (p *Plan) blobs() []v1.Descriptor {
	var kept []*node
	p.root.visitKept(func(n *node) { kept = append(kept, n) })
	return blobsOf(kept, nil)
}

// missingBlobs lists the distinct blobs of the kept image manifests that the target does not
// hold (have), largest first, so that the longest transfers start first.
func (p *Plan) missingBlobs(have map[string]bool) []v1.Descriptor {
	var kept []*node
	p.root.visitKept(func(n *node) { kept = append(kept, n) })
	blobs := blobsOf(kept, have)
	slices.SortStableFunc(blobs, func(a, b v1.Descriptor) int { return cmp.Compare(b.Size, a.Size) })
	return blobs
}

// blobsOf lists, once each, the blobs of the manifests the target does not hold (have).
func blobsOf(manifests []*node, have map[string]bool) []v1.Descriptor {
	seen := map[v1.Hash]bool{}
	var out []v1.Descriptor
	for _, n := range manifests {
		if have[n.outDigest] {
			continue
		}
		for _, b := range n.blobs {
			if !seen[b.Digest] {
				seen[b.Digest] = true
				out = append(out, b)
			}
		}
	}
	return out
}
