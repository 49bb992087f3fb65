package mirror

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// subjects are the digests of the copied manifests whose referrers travel: those the target
// gets unchanged (in filter mode the top index, and every index that is filtered, has a new
// digest that nothing at the source refers to), children first, the top last.
func (p *Plan) subjects() []string {
	var out []string
	seen := map[string]bool{}
	p.root.visitKept(func(n *node) {
		d := n.desc.Digest.String()
		if n.outDigest == d && !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	})
	return out
}

// planReferrers finds the referrers of the plan's subjects at the source and reads them.
func (e *Engine) planReferrers(ctx context.Context, p *Plan) error {
	subjects := p.subjects()
	found, err := e.findReferrers(ctx, p.src.Store, subjects)
	if err != nil {
		return err
	}
	p.ReferrerLookup = &ReferrerLookup{Subjects: subjects, Found: referrerKeys(found)}
	nodes := make([]*referrerNode, len(found))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.jobs)
	for i, r := range found {
		g.Go(func() error {
			n, err := e.readReferrer(gctx, p.src.Store, r)
			if n != nil {
				nodes[i] = &referrerNode{Referrer: r, node: n}
				nodes[i].ArtifactType = referrerArtifactType(n.raw, r.Tag != "")
				nodes[i].MediaType = string(n.desc.MediaType)
				nodes[i].Size = int64(len(n.raw))
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	p.Referrers, p.referrers = nil, nil
	for _, n := range nodes {
		if n != nil {
			p.referrers = append(p.referrers, n)
			p.Referrers = append(p.Referrers, n.Referrer)
		}
	}
	return nil
}

// lookupReferrers looks for the referrers of subjects at the source, without reading them: per
// subject one listing of its OCI referrers (two on a registry without the referrers API until it
// has shown that it lacks it) and one look-up of each cosign tag.
func (e *Engine) lookupReferrers(ctx context.Context, src store.Reader, subjects []string) (ReferrerLookup, error) {
	found, err := e.findReferrers(ctx, src, subjects)
	if err != nil {
		return ReferrerLookup{}, err
	}
	return ReferrerLookup{Subjects: slices.Clone(subjects), Found: referrerKeys(found)}, nil
}

// findReferrers lists the referrers of subjects in r: per subject its OCI referrers, ordered by
// digest, then its cosign tags in store.CosignSuffixes order; subjects in the order given. Each
// referrer appears once per subject and tag.
func (e *Engine) findReferrers(ctx context.Context, r store.Reader, subjects []string) ([]Referrer, error) {
	perSubject := make([][][]Referrer, len(subjects)) // subject → lookup (OCI, then each suffix)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.jobs)
	for i, subject := range subjects {
		h, err := v1.NewHash(subject)
		if err != nil {
			return nil, err
		}
		perSubject[i] = make([][]Referrer, 1+len(store.CosignSuffixes))
		g.Go(func() error {
			rs, err := ociReferrers(gctx, r, h)
			perSubject[i][0] = rs
			return err
		})
		for j, suffix := range store.CosignSuffixes {
			g.Go(func() error {
				ref, ok, err := cosignReferrer(gctx, r, h, suffix)
				if ok {
					perSubject[i][1+j] = []Referrer{ref}
				}
				return err
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []Referrer
	seen := map[string]bool{}
	for _, lookups := range perSubject {
		for _, rs := range lookups {
			for _, ref := range rs {
				if !seen[ref.key()] {
					seen[ref.key()] = true
					out = append(out, ref)
				}
			}
		}
	}
	return out, nil
}

// ociReferrers lists the OCI referrers of subject in r, ordered by digest.
func ociReferrers(ctx context.Context, r store.Reader, subject v1.Hash) ([]Referrer, error) {
	listed, err := r.Referrers(ctx, subject)
	if err != nil {
		return nil, err
	}
	if len(listed) > MaxIndexEntries {
		return nil, fmt.Errorf("%s@%s has %d referrers, more than the %d this provider accepts", r, subject, len(listed), MaxIndexEntries)
	}
	var out []Referrer
	for _, d := range listed {
		if d.Digest.Algorithm != "sha256" {
			return nil, fmt.Errorf("a referrer of %s@%s has digest %q; only sha256 digests are supported", r, subject, d.Digest)
		}
		if d.Digest == subject {
			continue
		}
		out = append(out, Referrer{Digest: d.Digest.String(), MediaType: string(d.MediaType), Size: d.Size,
			ArtifactType: d.ArtifactType, Subject: subject.String()})
	}
	slices.SortFunc(out, func(a, b Referrer) int { return strings.Compare(a.Digest, b.Digest) })
	return out, nil
}

// cosignReferrer looks for cosign's tag sha256-<hex><suffix> of subject in r.
func cosignReferrer(ctx context.Context, r store.Reader, subject v1.Hash, suffix string) (Referrer, bool, error) {
	tag := store.FallbackTag(subject) + suffix
	d, err := r.Resolve(ctx, tag)
	if errors.Is(err, store.ErrNotFound) {
		return Referrer{}, false, nil
	}
	if err != nil {
		return Referrer{}, false, err
	}
	if d.Digest.Algorithm != "sha256" {
		return Referrer{}, false, fmt.Errorf("%s:%s points at %q; only sha256 digests are supported", r, tag, d.Digest)
	}
	return Referrer{Digest: d.Digest.String(), MediaType: string(d.MediaType), Size: d.Size, Subject: subject.String(), Tag: tag}, true, nil
}

// readReferrer reads a referrer's manifest, and the manifests it lists when it is an index. It
// returns nil without an error for a listed referrer that cannot be copied: its manifest is gone
// (a fallback tag is not updated when a referrer is deleted), or, for an OCI referrer, it does
// not refer to the subject (a client could not find it by the subject at the target either).
func (e *Engine) readReferrer(ctx context.Context, r store.Reader, ref Referrer) (*node, error) {
	h, err := v1.NewHash(ref.Digest)
	if err != nil {
		return nil, err
	}
	n := &node{desc: v1.Descriptor{Digest: h, MediaType: types.MediaType(ref.MediaType), Size: ref.Size}, kept: true}
	if !isManifestType(n.desc.MediaType) {
		n.desc.MediaType = "" // take what the store serves
	}
	err = e.fetch(ctx, r, n)
	if errors.Is(err, store.ErrNotFound) {
		e.log(ctx, "a listed referrer is gone from the source; it is not copied", map[string]any{"referrer": DescribeReferrer(ref)})
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", DescribeReferrer(ref), err)
	}
	if of, _ := store.Subject(n.raw); ref.Tag == "" && of.String() != ref.Subject {
		e.log(ctx, "a listed referrer does not refer to its subject; it is not copied", map[string]any{"referrer": DescribeReferrer(ref)})
		return nil, nil
	}
	if err := e.readReferrerTree(ctx, r, n, 0); err != nil {
		return nil, fmt.Errorf("reading %s: %w", DescribeReferrer(ref), err)
	}
	n.visitKept(func(c *node) {
		c.out = c.raw
		c.outDigest = c.desc.Digest.String()
	})
	return n, nil
}

// readReferrerTree reads every manifest that the referrer index n lists, recursively.
func (e *Engine) readReferrerTree(ctx context.Context, r store.Reader, n *node, depth int) error {
	if !n.isIndex {
		return nil
	}
	manifests, err := n.indexEntries(depth)
	if err != nil {
		return err
	}
	for _, d := range manifests {
		c := &node{desc: d, kept: true, isIndex: d.MediaType.IsIndex()}
		if err := e.fetch(ctx, r, c); err != nil {
			return err
		}
		if err := e.readReferrerTree(ctx, r, c, depth+1); err != nil {
			return err
		}
		n.entries = append(n.entries, c)
	}
	return nil
}

func isManifestType(mt types.MediaType) bool {
	switch mt {
	case types.OCIImageIndex, types.DockerManifestList, types.OCIManifestSchema1, types.DockerManifestSchema2:
		return true
	}
	return false
}

// referrerArtifactType is what the OCI referrers API reports as a manifest's artifact type (see
// store.ArtifactType). For a cosign tag whose manifest has a plain image config (cosign writes
// one), the media type of its first layer says more.
func referrerArtifactType(raw []byte, cosign bool) string {
	if !cosign {
		return store.ArtifactType(raw)
	}
	var m struct {
		ArtifactType string `json:"artifactType"`
		Config       struct {
			MediaType types.MediaType `json:"mediaType"`
		} `json:"config"`
		Layers []struct {
			MediaType string `json:"mediaType"`
		} `json:"layers"`
	}
	if json.Unmarshal(raw, &m) == nil && m.ArtifactType == "" && len(m.Layers) > 0 {
		switch m.Config.MediaType {
		case "", types.OCIConfigJSON, types.DockerConfigJSON, "application/vnd.oci.empty.v1+json":
			return m.Layers[0].MediaType
		}
	}
	return store.ArtifactType(raw)
}
