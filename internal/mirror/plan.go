package mirror

import (
	"context"
	"fmt"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// Plan is what a mirror copies and what the target will hold. Plan computes it from the source
// and Apply carries it out, so what the plan shows is what apply does. Its Record is what the
// provider keeps once Apply succeeded.
type Plan struct {
	Record

	Spec Spec

	// Source is the normalised source reference; SourceMediaType the media type of what it
	// resolved to (Record.SourceDigest).
	Source          string
	SourceMediaType string
	// MediaType is the media type of what the target holds.
	MediaType string

	root      *node
	src       store.Location
	target    store.Location
	baseName  string          // the original source reference, kept with names where a target keeps it
	referrers []*referrerNode // what Referrers lists, with its manifests
}

// ResolveSource returns the digest the source reference points at, with one request (HEAD for a
// registry), or none when the reference carries a digest.
func (e *Engine) ResolveSource(ctx context.Context, source string) (string, error) {
	src, err := e.open(source, store.RoleSource)
	if err != nil {
		return "", err
	}
	return resolve(ctx, src)
}

// resolve returns the digest that a location names.
func resolve(ctx context.Context, loc store.Location) (string, error) {
	if loc.Digest != "" {
		return loc.Digest, nil
	}
	d, err := loc.Store.Resolve(ctx, loc.Name)
	if err != nil {
		return "", err
	}
	return d.Digest.String(), nil
}

// Parse parses a reference as a source or a target, with the scheme its prefix names, without a
// request. Its errors are *ReferenceError.
func (e *Engine) Parse(ref string, role store.Role) (store.Location, error) { return e.open(ref, role) }

// Plan inspects the source, selects platforms and computes what the target gets.
func (e *Engine) Plan(ctx context.Context, spec Spec) (*Plan, error) {
	if spec.IndexMode == "" {
		spec.IndexMode = ModePreserve
	}
	if !slices.Contains(IndexModes, spec.IndexMode) {
		return nil, fmt.Errorf("index mode %q is not valid; use %q or %q", spec.IndexMode, ModePreserve, ModeFilter)
	}
	sel, err := newSelector(spec)
	if err != nil {
		return nil, err
	}
	policy, err := e.policy(spec) // verify.go
	if err != nil {
		return nil, err
	}
	src, err := e.open(spec.Source, store.RoleSource)
	if err != nil {
		return nil, err
	}
	if spec.Target != "" { // a target that cannot be used fails before the source is read
		if _, err := e.open(spec.Target, store.RoleTarget); err != nil {
			return nil, err
		}
	}
	if spec.SourceDigest != "" {
		src.Digest = spec.SourceDigest
	}
	p := &Plan{Spec: spec, Source: src.String(), src: src}
	p.Selection = selectionOf(spec)

	root, top, err := e.fetchTop(ctx, src)
	if err != nil {
		return nil, err
	}
	p.root = root
	p.SourceDigest = root.desc.Digest.String()
	p.SourceMediaType = string(root.desc.MediaType)
	// Before anything else is read: an unsigned source costs one manifest and its signatures.
	if err := e.verifySource(ctx, policy, src, p.SourceDigest, spec, &p.Record); err != nil {
		return nil, err
	}
	p.baseName = e.baseName(ctx, src, top)
	if root.isIndex {
		if err := e.walk(ctx, src.Store, root, sel, 0, nil); err != nil {
			return nil, err
		}
	} else {
		sel.selects(root.platform) // a single image is mirrored as it is; platforms must match it
	}
	root.kept = true
	p.Platforms = sel.available
	if err := sel.check(src.String()); err != nil {
		return nil, err
	}
	if err := p.computeOutput(spec.IndexMode); err != nil {
		return nil, err
	}
	if spec.MaxBytes > 0 && p.Size > spec.MaxBytes {
		return nil, &TooLargeError{Source: p.Source, Size: p.Size, MaxBytes: spec.MaxBytes}
	}
	if spec.Referrers {
		if err := e.planReferrers(ctx, p); err != nil { // referrers_find.go
			return nil, err
		}
	}
	if spec.Target != "" {
		if p.target, err = e.locate(spec, p.Digest, &p.Record); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// baseName is the original reference of the source image: the location's, else what the store
// keeps with the name (an OCI image layout entry's base name), else the name or digest.
func (e *Engine) baseName(ctx context.Context, src store.Location, top v1.Descriptor) string {
	if src.BaseName != "" {
		return src.BaseName
	}
	if src.Name != "" && src.Digest != "" { // read by digest: the name says
		if d, err := src.Store.Resolve(ctx, src.Name); err == nil && d.Digest == top.Digest {
			top = d
		}
	}
	if b := top.Annotations[store.AnnotationBaseName]; b != "" {
		return b
	}
	if src.Name != "" {
		return src.Name
	}
	return src.Digest
}

// computeOutput decides the bytes of every kept node and the plan's summary values.
func (p *Plan) computeOutput(mode IndexMode) error {
	if err := p.root.computeOutput(mode); err != nil { // output.go
		return err
	}
	p.Digest = p.root.outDigest
	p.MediaType = string(p.root.desc.MediaType)
	sizes := map[string]int64{}
	// An entry that is not kept is still present when the same manifest is kept elsewhere (an
	// index may list one image under two platforms).
	keptDigests := map[string]bool{}
	p.root.visitKept(func(n *node) { keptDigests[n.desc.Digest.String()] = true })
	var visit func(n *node)
	visit = func(n *node) {
		for _, c := range n.entries {
			if !c.kept {
				if p.root.isIndex && mode == ModePreserve && !keptDigests[c.desc.Digest.String()] {
					p.Sparse = true
				}
				continue
			}
			visit(c)
		}
		m := Manifest{Digest: n.outDigest, MediaType: string(n.desc.MediaType), Size: int64(len(n.out))}
		if !n.isIndex && !n.attestation && n.platform.isKnown() {
			m.Platform = n.platform.String()
			p.Manifests = append(p.Manifests, m)
		}
		if n != p.root {
			p.Children = append(p.Children, m)
		}
		sizes[n.outDigest] = int64(len(n.out))
		for _, b := range n.blobs {
			sizes[b.Digest.String()] = b.Size
		}
	}
	visit(p.root)
	for _, s := range sizes {
		p.Size += s
	}
	return nil
}

// Locate says where a mirror of spec whose top manifest has the given digest lands: the target
// repository and the tag (empty when pushed by digest only). It makes no request.
func (e *Engine) Locate(spec Spec, digest string) (repository, tag string, err error) {
	var r Record
	if _, err := e.locate(spec, digest, &r); err != nil {
		return "", "", err
	}
	return r.Repository, r.Tag, nil
}

// locate parses the target of spec and fills in r where the mirror with the given digest lands:
// repository, tag (the target's, else the source's) and the target's traits.
func (e *Engine) locate(spec Spec, digest string, r *Record) (store.Location, error) {
	src, err := e.open(spec.Source, store.RoleSource)
	if err != nil {
		return store.Location{}, err
	}
	tgt, err := e.open(spec.Target, store.RoleTarget)
	if err != nil {
		return store.Location{}, err
	}
	if tgt.Digest != "" && tgt.Digest != digest {
		return store.Location{}, &TargetDigestMismatchError{Target: spec.Target, Want: tgt.Digest, Digest: digest}
	}
	r.Repository, r.Tag, r.Traits = tgt.Repository, tgt.Name, tgt.Traits
	if r.Tag == "" {
		r.Tag = src.TargetTag
	}
	return tgt, nil
}
