package mirror

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// Apply copies what the plan computed: blobs first, then image manifests by digest, then nested
// indexes, then the top manifest by digest and the tag last, so a reader never sees an index
// whose content is missing. After the tag is written it is read back and must point at the
// planned digest.
//
// Content already at the target is not sent again. Apply first asks, with HEAD requests, for
// the tag and every manifest it copies. A manifest the target holds is not pushed, and the
// blobs of an image manifest it holds are not checked one by one (a registry accepts an image
// manifest only once its blobs are there; this is also what go-containerregistry does). Every
// other blob is checked (HEAD), mounted from another repository of the target registry when
// one has it, or streamed from the source. A tag that already points at the digest is not
// written again, so an Apply whose target holds everything makes HEAD requests only (with
// referrers, also one listing per subject, to check that clients find them).
//
// No Delete of this Engine runs in the target repository meanwhile (claims.go).
func (e *Engine) Apply(ctx context.Context, p *Plan) (Stats, error) {
	var st Stats
	if p.Spec.Target == "" {
		return st, errors.New("the plan has no target")
	}
	start := time.Now()
	defer e.claims.lock(repositoryKey(p.target), false)()
	if l := e.layoutOf(p.target.Repo); l != nil {
		return e.applyLayout(ctx, p, l, start) // layout_apply.go
	}
	t, err := e.transfer()
	if err != nil {
		return st, err
	}
	dst := p.target.Repo
	levels := p.levels()
	have, tagged, err := e.survey(ctx, t, dst, p, levels)
	if err != nil {
		return st, err
	}

	all := p.blobs()
	st.Blobs, st.BlobBytes = len(all), sizeOf(all)
	blobs := p.missingBlobs(have)
	st.BlobsSkipped = len(all) - len(blobs)
	e.log(ctx, fmt.Sprintf("mirroring %s to %s: %d blobs (%s) to check or copy, %d of %d manifests already there",
		p.Source, p.TargetRepository, len(blobs), HumanBytes(sizeOf(blobs)), len(have), len(p.Copied)), map[string]any{
		"target": p.TargetRepository, "blobs": len(all), "blobs_to_check": len(blobs), "size_to_check": HumanBytes(sizeOf(blobs)),
		"manifests": len(p.Copied), "manifests_present": len(have),
	})
	if err := e.copyBlobs(ctx, t, p.src.Repo, dst, blobs, &st); err != nil {
		return st, err
	}
	// Manifests level by level, deepest first: every level only references what is below it.
	for _, level := range levels {
		pushed, err := e.pushManifests(ctx, t, dst, level, have, p)
		st.ManifestsPushed += pushed
		st.ManifestsSkipped += len(level) - pushed
		if err != nil {
			return st, err
		}
	}
	if p.TargetTag != "" && !tagged {
		tag := dst.Tag(p.TargetTag)
		if err := t.pusher.Put(ctx, tag, rawManifest{p.root.out, p.root.desc.MediaType}); err != nil {
			return st, e.explain("tagging", tag, err)
		}
		st.Tagged = true
		got, err := t.puller.Head(ctx, tag)
		if err != nil {
			return st, e.explain("reading back", tag, err)
		}
		if got.Digest.String() != p.Digest {
			return st, fmt.Errorf("after pushing, %s points at %s instead of %s: something else wrote the tag at the same time", tag, got.Digest, p.Digest)
		}
	}
	if err := e.applyReferrers(ctx, t, dst, p); err != nil { // after their subjects (referrers.go)
		return st, err
	}
	e.logSummary(ctx, p.Ref(), st, time.Since(start))
	return st, nil
}

// survey asks the target, with concurrent HEAD requests, which of the manifests to copy it
// holds already (by digest), and whether the tag points at the planned digest. A tag that does
// stands for the top manifest, which then needs no request of its own.
func (e *Engine) survey(ctx context.Context, t *transfers, dst name.Repository, p *Plan, levels [][]*node) (map[string]bool, bool, error) {
	var (
		mu     sync.Mutex
		have   = map[string]bool{}
		tagged bool
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.jobs)
	if p.TargetTag != "" {
		g.Go(func() error {
			// Only an optimisation: when the tag cannot be read, it is written.
			desc, err := t.puller.Head(gctx, dst.Tag(p.TargetTag))
			if err == nil && desc.Digest.String() == p.Digest {
				mu.Lock()
				tagged = true
				mu.Unlock()
			}
			return nil
		})
	}
	check := func(ctx context.Context, digest string) func() error {
		return func() error {
			ok, err := e.manifestExists(ctx, t, dst.Digest(digest))
			if ok {
				mu.Lock()
				have[digest] = true
				mu.Unlock()
			}
			return err
		}
	}
	for _, level := range levels {
		for _, n := range level {
			if n == p.root && p.TargetTag != "" {
				continue // the tag answers for it
			}
			g.Go(check(gctx, n.outDigest))
		}
	}
	if err := g.Wait(); err != nil {
		return nil, false, err
	}
	if p.TargetTag != "" {
		if tagged {
			have[p.Digest] = true
		} else if err := check(ctx, p.Digest)(); err != nil {
			return nil, false, err
		}
	}
	return have, tagged, nil
}

// manifestExists HEADs ref at the target.
func (e *Engine) manifestExists(ctx context.Context, t *transfers, ref name.Digest) (bool, error) {
	_, err := t.puller.Head(ctx, ref)
	if err == nil {
		return true, nil
	}
	if isNotFound(err) {
		return false, nil
	}
	return false, e.explain("checking", ref, err)
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

// sizeOf is the total size of blobs.
func sizeOf(blobs []v1.Descriptor) int64 {
	var n int64
	for _, b := range blobs {
		n += b.Size
	}
	return n
}

// copyBlobs makes the blobs present in dst and counts what it did in st, with a progress
// message every e.progressEvery. At most jobs blobs stream at once; as many more get ready
// meanwhile (HEAD, mount or start of the upload), so that the requests before a transfer do
// not leave a stream idle, as go-containerregistry does.
func (e *Engine) copyBlobs(ctx context.Context, t *transfers, src, dst name.Repository, blobs []v1.Descriptor, st *Stats) error {
	var mu sync.Mutex
	progress := newCopyProgress(blobs)
	defer e.reportProgress(ctx, dst.Name(), progress)()
	streams := make(semaphore, e.jobs)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(2 * e.jobs)
	for _, b := range blobs {
		g.Go(func() error {
			outcome, sent, err := e.copyBlob(gctx, t, src, dst, b, streams, progress)
			if err != nil {
				return err
			}
			progress.finished(b.Size, outcome == blobUploaded)
			mu.Lock()
			defer mu.Unlock()
			switch outcome {
			case blobUploaded:
				st.BlobsUploaded++
				st.BytesUploaded += sent
			case blobMounted:
				st.BlobsMounted++
			default:
				st.BlobsSkipped++
			}
			return nil
		})
	}
	return g.Wait()
}

// pushManifests pushes by digest the manifests of one level that the target does not hold
// (have), jobs at a time. It returns how many it pushed.
func (e *Engine) pushManifests(ctx context.Context, t *transfers, dst name.Repository, nodes []*node, have map[string]bool, p *Plan) (int, error) {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.jobs)
	pushed := make([]bool, len(nodes))
	for i, n := range nodes {
		if have[n.outDigest] {
			continue
		}
		g.Go(func() error {
			ref := dst.Digest(n.outDigest)
			if err := e.putManifest(gctx, t, dst, n, p); err != nil {
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
		case transport.ManifestUnknownErrorCode, manifestBlobUnknown, transport.ManifestInvalidErrorCode, transport.BlobUnknownErrorCode:
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
