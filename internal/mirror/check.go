package mirror

import (
	"context"
	"errors"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// Drift is what Check found at the target.
type Drift struct {
	// Gone is true when the tag (or, untagged, the top manifest) no longer exists.
	Gone bool
	// Current is the digest the tag points at now (equal to the recorded digest without drift;
	// empty when Gone).
	Current string
	// IndexMissing is true when the recorded top manifest no longer exists by digest. It is
	// checked only when the tag is gone or points elsewhere (otherwise the tag proves it
	// exists); untagged, it equals Gone.
	IndexMissing bool
	// MissingManifests lists copied manifests the target no longer has, in record order.
	MissingManifests []string
	// MissingReferrers lists copied referrers the target no longer has (a cosign tag gone or
	// pointing elsewhere, an OCI referrer's manifest gone), in record order.
	MissingReferrers []Referrer
}

// Drifted reports whether anything differs from what rec says the target holds.
func (d *Drift) Drifted(rec Record) bool {
	return d.Gone || d.Current != rec.Digest || d.IndexMissing || len(d.MissingManifests) > 0 || len(d.MissingReferrers) > 0
}

// Check compares the target with the record of what was mirrored there. It only asks whether
// names and digests exist (HEAD requests at a registry, which registries such as Docker Hub do
// not count against pull limits): one for the tag (or, untagged, the top manifest by digest) and
// one per recorded child manifest by digest, all at once; only when the tag is gone or points
// elsewhere, one for the top manifest by digest; and one per copied referrer (its cosign tag, or
// an OCI referrer by digest). It reads no content.
func (e *Engine) Check(ctx context.Context, target string, rec Record) (*Drift, error) {
	tgt, err := e.open(target, store.RoleTarget)
	if err != nil {
		return nil, err
	}
	dst := tgt.Store
	d := &Drift{}
	top := rec.Digest
	if rec.Tag != "" {
		top = rec.Tag
	}
	// The tag and the children are asked at once, so that a mirror without drift costs one round
	// trip; when the tag is gone, the children's answers are not used.
	children := rec.ChildDigests()
	gone := make([]bool, len(children))
	var (
		desc   v1.Descriptor
		topErr error
	)
	if err := e.each(ctx, len(children)+1, func(ctx context.Context, i int) (err error) {
		if i == 0 {
			desc, topErr = dst.Resolve(ctx, top)
			if errors.Is(topErr, store.ErrNotFound) {
				return nil
			}
			return topErr
		}
		gone[i-1], err = missing(ctx, dst, children[i-1])
		return err
	}); err != nil {
		return nil, err
	}
	if topErr != nil { // not found
		d.Gone, d.IndexMissing = true, true
		if rec.Tag != "" {
			if d.IndexMissing, err = missing(ctx, dst, rec.Digest); err != nil {
				return nil, err
			}
		}
		return d, nil
	}
	d.Current = desc.Digest.String()
	if d.Current != rec.Digest {
		if d.IndexMissing, err = missing(ctx, dst, rec.Digest); err != nil {
			return nil, err
		}
	}
	for i, m := range children {
		if gone[i] && !slices.Contains(d.MissingManifests, m) {
			d.MissingManifests = append(d.MissingManifests, m)
		}
	}
	if d.MissingReferrers, err = e.checkReferrers(ctx, dst, rec.Referrers); err != nil {
		return nil, err
	}
	return d, nil
}

// checkReferrers returns the referrers that are gone from the target: a cosign referrer whose
// tag is gone or points elsewhere, an OCI referrer whose manifest is gone.
func (e *Engine) checkReferrers(ctx context.Context, dst store.Reader, want []Referrer) ([]Referrer, error) {
	gone := make([]bool, len(want))
	if err := e.each(ctx, len(want), func(ctx context.Context, i int) error {
		r := want[i]
		ref := r.Digest
		if r.Tag != "" {
			ref = r.Tag
		}
		got, err := dst.Resolve(ctx, ref)
		if errors.Is(err, store.ErrNotFound) || (err == nil && got.Digest.String() != r.Digest) {
			gone[i] = true
			return nil
		}
		return err
	}); err != nil {
		return nil, err
	}
	var out []Referrer
	for i, r := range want {
		if gone[i] {
			out = append(out, r)
		}
	}
	return out, nil
}

// missing reports whether the manifest with the digest is not in r.
func missing(ctx context.Context, r store.Reader, digest string) (bool, error) {
	ok, err := exists(ctx, r, digest)
	return !ok && err == nil, err
}

// each runs f for 0 ≤ i < n, e.jobs at a time, and returns the first error.
func (e *Engine) each(ctx context.Context, n int, f func(ctx context.Context, i int) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.jobs)
	for i := range n {
		g.Go(func() error { return f(gctx, i) })
	}
	return g.Wait()
}
