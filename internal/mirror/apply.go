package mirror

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// Apply copies what the plan computed: blobs first, then image manifests by digest, then nested
// indexes, then the top manifest by digest and the tag last, so a reader never sees an index
// whose content is missing (copyorder.go). After the tag is written it is read back and must
// point at the planned digest.
//
// Content already at the target is not sent again. Apply first asks the target for the tag and
// every manifest it copies (a HEAD each at a registry). A manifest the target holds is not
// pushed, and the blobs of an image manifest it holds are not checked one by one (a registry
// accepts an image manifest only once its blobs are there; this is also what
// go-containerregistry does). Every other blob is pushed (blobcopy.go): the target skips what it
// has, mounts what another repository of its registry has, and streams the rest from the
// source. A tag that already points at the digest is not written again, so an Apply whose target
// holds everything only asks (with referrers, also one listing per subject, to check that
// clients find them).
//
// No Delete of this Engine runs in the target repository meanwhile (claims.go).
func (e *Engine) Apply(ctx context.Context, p *Plan) (Stats, error) {
	var st Stats
	if p.Spec.Target == "" {
		return st, errors.New("the plan has no target")
	}
	start := time.Now()
	defer e.claims.lock(p.target.Key(), false)()
	dst := p.target.Store.(store.Target) //nolint:forcetypeassert // open checks it for a target
	release, err := dst.Lease(ctx)
	if err != nil {
		return st, err
	}
	defer release()

	levels := p.levels()
	have, tagged, err := e.survey(ctx, dst, p, levels)
	if err != nil {
		return st, err
	}
	all := p.blobs()
	st.Blobs, st.BlobBytes = len(all), sizeOf(all)
	blobs := p.missingBlobs(have)
	st.BlobsSkipped = len(all) - len(blobs)
	e.log(ctx, fmt.Sprintf("mirroring %s to %s: %d blobs (%s) to check or copy, %d of %d manifests already there",
		p.Source, p.Repository, len(blobs), HumanBytes(sizeOf(blobs)), len(have), len(p.Children)+1), map[string]any{
		"target": p.Repository, "blobs": len(all), "blobs_to_check": len(blobs), "size_to_check": HumanBytes(sizeOf(blobs)),
		"manifests": len(p.Children) + 1, "manifests_present": len(have),
	})
	if err := e.copyBlobs(ctx, p.src.Store, dst, blobs, &st); err != nil {
		return st, err
	}
	for _, level := range levels {
		pushed, err := e.pushManifests(ctx, dst, level, have, p)
		st.ManifestsPushed += pushed
		st.ManifestsSkipped += len(level) - pushed
		if err != nil {
			return st, err
		}
	}
	if st.Tagged, err = e.tag(ctx, dst, p, tagged); err != nil {
		return st, err
	}
	if err := e.applyReferrers(ctx, dst, p); err != nil { // after their subjects (referrers_copy.go)
		return st, err
	}
	e.logSummary(ctx, p.Ref(), st, time.Since(start))
	return st, nil
}

// topDesc is the descriptor the top manifest is named with: with the original source reference,
// which targets that keep annotations with names (an OCI image layout) record.
func (p *Plan) topDesc() v1.Descriptor {
	d := p.root.outDesc()
	if p.baseName != "" {
		d.Annotations = map[string]string{store.AnnotationBaseName: p.baseName}
	}
	return d
}

// tag names the top manifest as planned, unless tagged says the tag holds it already, and
// reads the tag back. Untagged, it records the manifest as a root of its own where the target
// keeps only what is named. It reports whether it wrote the tag.
func (e *Engine) tag(ctx context.Context, dst store.Target, p *Plan, tagged bool) (bool, error) {
	if p.Tag == "" {
		return false, dst.Tag(ctx, "", p.topDesc(), p.root.out)
	}
	if tagged {
		return false, nil
	}
	if err := dst.Tag(ctx, p.Tag, p.topDesc(), p.root.out); err != nil {
		return false, err
	}
	got, err := dst.Resolve(ctx, p.Tag)
	if err != nil {
		return true, fmt.Errorf("reading back the tag: %w", err)
	}
	if got.Digest.String() != p.Digest {
		return true, fmt.Errorf("after pushing, %s:%s points at %s instead of %s: something else wrote the tag at the same time",
			p.Repository, p.Tag, got.Digest, p.Digest)
	}
	return true, nil
}

// survey asks the target, concurrently, which of the manifests to copy it holds already (by
// digest), and whether the tag names the planned digest as planned. A tag that does stands for
// the top manifest, which then needs no question of its own.
func (e *Engine) survey(ctx context.Context, dst store.Target, p *Plan, levels [][]*node) (map[string]bool, bool, error) {
	var (
		mu     sync.Mutex
		have   = map[string]bool{}
		tagged bool
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.jobs)
	if p.Tag != "" {
		g.Go(func() error {
			// Only an optimisation: when the tag cannot be read, it is written.
			d, err := dst.Resolve(gctx, p.Tag)
			if err == nil && d.Digest.String() == p.Digest && keepsAnnotations(d, p.topDesc()) {
				mu.Lock()
				tagged = true
				mu.Unlock()
			}
			return nil
		})
	}
	check := func(ctx context.Context, digest string) func() error {
		return func() error {
			ok, err := exists(ctx, dst, digest)
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
			if n == p.root && p.Tag != "" {
				continue // the tag answers for it
			}
			g.Go(check(gctx, n.outDigest))
		}
	}
	if err := g.Wait(); err != nil {
		return nil, false, err
	}
	if p.Tag != "" {
		if tagged {
			have[p.Digest] = true
		} else if err := check(ctx, p.Digest)(); err != nil {
			return nil, false, err
		}
	}
	return have, tagged, nil
}

// keepsAnnotations reports whether what a name resolved to (got) carries the annotations of
// want, for stores that keep annotations with names; a store that reports none keeps none.
func keepsAnnotations(got, want v1.Descriptor) bool {
	if len(got.Annotations) == 0 {
		return true
	}
	for k, v := range want.Annotations {
		if got.Annotations[k] != v {
			return false
		}
	}
	return true
}

// exists reports whether the target holds the manifest with the digest.
func exists(ctx context.Context, r store.Reader, digest string) (bool, error) {
	_, err := r.Resolve(ctx, digest)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// pushManifests pushes by digest the manifests of one level that the target does not hold
// (have), jobs at a time. It returns how many it pushed.
func (e *Engine) pushManifests(ctx context.Context, dst store.Target, nodes []*node, have map[string]bool, p *Plan) (int, error) {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.jobs)
	pushed := make([]bool, len(nodes))
	for i, n := range nodes {
		if have[n.outDigest] {
			continue
		}
		g.Go(func() error {
			err := e.putManifest(gctx, dst, n, p) // repair.go
			var rejected *store.RejectedError
			if err != nil && n.isIndex && p.Sparse && errors.As(err, &rejected) {
				return &SparseIndexRejectedError{Target: p.Repository, Err: err}
			}
			pushed[i] = err == nil
			return err
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
