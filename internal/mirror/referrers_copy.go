package mirror

import (
	"context"
	"fmt"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// applyReferrers copies the plan's referrers to dst, after their subjects: the blobs the target
// lacks, then each referrer's manifests (those of a referrer index first) by digest, then each
// cosign tag; then it makes sure the target lists every OCI referrer.
//
// A registry without the referrers API gets each OCI referrer merged into the subject's
// fallback tag index (a read and a write, keeping the entries that are there), so the manifests
// are pushed one at a time: concurrent pushes for one subject would race.
func (e *Engine) applyReferrers(ctx context.Context, dst store.Target, p *Plan) error {
	if len(p.referrers) == 0 {
		return nil
	}
	manifests := p.referrerManifests()
	var (
		mu     sync.Mutex
		have   = map[string]bool{}
		tagged = map[string]bool{}
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.jobs)
	for _, n := range manifests {
		g.Go(func() error {
			ok, err := exists(gctx, dst, n.outDigest)
			if ok {
				mu.Lock()
				have[n.outDigest] = true
				mu.Unlock()
			}
			return err
		})
	}
	for _, r := range p.referrers {
		if r.Tag == "" {
			continue
		}
		g.Go(func() error {
			d, err := dst.Resolve(gctx, r.Tag)
			if err == nil && d.Digest.String() == r.Digest {
				mu.Lock()
				tagged[r.Tag] = true
				mu.Unlock()
			}
			return nil // only an optimisation: a tag that cannot be read is written
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}

	blobs := blobsOf(manifests, have)
	var scratch Stats
	if err := e.copyBlobs(ctx, p.src.Store, dst, blobs, &scratch); err != nil {
		return fmt.Errorf("copying the blobs of referrers: %w", err)
	}
	pushed := 0
	for _, n := range manifests {
		if have[n.outDigest] {
			continue
		}
		if err := dst.PushManifest(ctx, n.outDesc(), n.out); err != nil {
			return fmt.Errorf("pushing a referrer: %w", err)
		}
		pushed++
	}
	for _, r := range p.referrers {
		if r.Tag == "" || tagged[r.Tag] {
			continue
		}
		if err := dst.Tag(ctx, r.Tag, r.node.outDesc(), r.node.out); err != nil {
			return err
		}
		pushed++
	}
	if err := e.ensureListed(ctx, dst, p.referrers); err != nil {
		return err
	}
	e.log(ctx, "referrers copied", map[string]any{
		"target": dst.String(), "referrers": len(p.referrers), "manifests_pushed": pushed, "blobs": len(blobs),
		"blobs_uploaded": scratch.BlobsUploaded, "blobs_mounted": scratch.BlobsMounted, "blobs_skipped": scratch.BlobsSkipped,
	})
	return nil
}

// listRounds bounds how often ensureListed pushes unlisted referrers again.
const listRounds = 3

// ensureListed lists, as clients do, the referrers of every subject that has OCI referrers at
// dst, and pushes those not listed again (a concurrent writer of a registry's fallback tag can
// drop an entry; pushing again merges it once more).
func (e *Engine) ensureListed(ctx context.Context, dst store.Target, refs []*referrerNode) error {
	bySubject := map[string][]*referrerNode{}
	var subjects []string
	for _, r := range refs {
		if r.Tag != "" {
			continue
		}
		if bySubject[r.Subject] == nil {
			subjects = append(subjects, r.Subject)
		}
		bySubject[r.Subject] = append(bySubject[r.Subject], r)
	}
	for _, subject := range subjects {
		h, err := v1.NewHash(subject)
		if err != nil {
			return err
		}
		for round := 1; ; round++ {
			listed, err := dst.Referrers(ctx, h)
			if err != nil {
				return err
			}
			seen := map[string]bool{}
			for _, d := range listed {
				seen[d.Digest.String()] = true
			}
			var missing []*referrerNode
			for _, r := range bySubject[subject] {
				if !seen[r.Digest] {
					missing = append(missing, r)
				}
			}
			if len(missing) == 0 {
				break
			}
			if round > listRounds {
				var names []string
				for _, r := range missing {
					names = append(names, DescribeReferrer(r.Referrer))
				}
				return fmt.Errorf("after pushing, %s does not list %s as referrers of %s: clients would not find them there",
					dst, strings.Join(names, "; "), subject)
			}
			e.log(ctx, "the target does not list referrers it holds; pushing them again", map[string]any{"subject": subject, "target": dst.String(), "missing": len(missing)})
			for _, r := range missing {
				if err := dst.PushManifest(ctx, r.node.outDesc(), r.node.out); err != nil {
					return fmt.Errorf("pushing a referrer again: %w", err)
				}
			}
		}
	}
	return nil
}
