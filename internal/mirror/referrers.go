package mirror

// Referrers (Spec.Referrers): what refers to the copied manifests travels with them.
//
// At the source, for each subject (every copied manifest that the target gets unchanged; see
// Plan.subjects) the engine asks for
//
//   - its OCI 1.1 referrers: GET /v2/<repo>/referrers/<digest> (go-containerregistry's
//     remote.Referrers), or, on a registry without that API, the index under the fallback tag
//     "sha256-<hex>". Once a registry has shown that it lacks the API (remote.Referrers answered
//     with the empty index that stands for "no API, no fallback tag"), the fallback tag is read
//     directly: one request per subject;
//   - cosign's tags "sha256-<hex>.sig", ".att" and ".sbom" (HEAD).
//
// Each referrer found is read (GET by digest, verified) with everything it references: its
// blobs, and, for a referrer that is an index, its manifests.
//
// At the target, Apply pushes them after their subject: blobs, then the manifests of a referrer
// that is an index, then the referrer by digest. go-containerregistry's Put of a manifest with a
// subject asks the target for its referrers API (GET /v2/<repo>/referrers/<subject>): when the
// target answers 200 the registry lists the referrer itself; otherwise Put merges the referrer
// into the target's fallback tag index (GET it, add the entry if absent, PUT), keeping the
// entries that are there. Cosign referrers are then tagged with their cosign tag. Finally Apply
// lists the referrers of each subject at the target, as clients do, and pushes again those not
// listed (a concurrent writer of the fallback tag can drop an entry).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// CosignSuffixes are the suffixes of the tags under which cosign stores, for the manifest with
// digest sha256:<hex>, its signatures ("sha256-<hex>.sig"), attestations (".att") and SBOMs
// (".sbom").
var CosignSuffixes = []string{".sig", ".att", ".sbom"}

// Referrer is a manifest that refers to a copied manifest and is copied with it: an OCI 1.1
// referrer (a manifest whose subject is the copied manifest), or a signature, attestation or
// SBOM that cosign stores under a tag.
type Referrer struct {
	// Digest and MediaType describe the referrer's manifest; Size is its length in bytes.
	Digest    string `json:"digest"`
	MediaType string `json:"media_type"`
	Size      int64  `json:"size"`
	// ArtifactType is the manifest's artifactType, else its config media type (as the OCI
	// referrers API reports it). For a cosign tag whose manifest has a plain image config, it
	// is the media type of its first layer (application/vnd.dev.cosign.simplesigning.v1+json
	// for a signature).
	ArtifactType string `json:"artifact_type"`
	// Subject is the digest of the copied manifest it refers to.
	Subject string `json:"subject"`
	// Tag is the cosign tag ("sha256-<hex>.sig", ".att" or ".sbom") it is stored under, empty
	// for an OCI referrer.
	Tag string `json:"tag,omitempty"`
}

// key identifies a referrer: the same manifest under another subject or tag is another one.
func (r Referrer) key() string { return r.Subject + " " + r.Digest + " " + r.Tag }

// ReferrerLookup is what planning needs to notice, cheaply, that referrers appeared at (or went
// from) the source since the last apply: the subjects whose referrers were looked for, and what
// was found (including listed referrers that were not copied because their manifest is gone or
// refers to something else). Compare it with the result of FindReferrers.
type ReferrerLookup struct {
	Subjects []string `json:"subjects"`
	Found    []string `json:"found"`
}

// Equal reports whether two lookups found the same referrers of the same subjects.
func (l ReferrerLookup) Equal(o ReferrerLookup) bool {
	return slices.Equal(l.Subjects, o.Subjects) && slices.Equal(l.Found, o.Found)
}

// referrerNode is a referrer to copy with its manifest tree (a referrer that is an index lists
// manifests, all of which are copied).
type referrerNode struct {
	Referrer
	node *node
}

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
	repo := p.src.Repo
	subjects := p.subjects()
	found, err := e.findReferrers(ctx, repo, subjects)
	if err != nil {
		return err
	}
	p.ReferrerLookup = ReferrerLookup{Subjects: subjects, Found: referrerKeys(found)}
	nodes := make([]*referrerNode, len(found))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.jobs)
	for i, r := range found {
		g.Go(func() error {
			n, err := e.readReferrer(gctx, repo, r)
			if n != nil {
				nodes[i] = &referrerNode{Referrer: r, node: n}
				nodes[i].ArtifactType = artifactTypeOf(n.raw, r.Tag != "")
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

// FindReferrers looks for the referrers of subjects in the source repository, without reading
// them: per subject one request for its OCI referrers (two on a registry without the referrers
// API until it has shown that it lacks it) and a HEAD for each cosign tag. Planning compares the
// result with the lookup of the last apply (Plan.ReferrerLookup) to notice new referrers.
func (e *Engine) FindReferrers(ctx context.Context, source string, subjects []string) (ReferrerLookup, error) {
	src, err := e.parseImageRef("source", source, "latest")
	if err != nil {
		return ReferrerLookup{}, err
	}
	found, err := e.findReferrers(ctx, src.Repo, subjects)
	if err != nil {
		return ReferrerLookup{}, err
	}
	return ReferrerLookup{Subjects: slices.Clone(subjects), Found: referrerKeys(found)}, nil
}

// KeepReferrers drops the referrers of the plan that want does not list (by subject, digest and
// tag), so that apply copies the referrers the plan showed even when more appeared at the source
// since. It fails when one that want lists is no longer at the source. Dropped referrers are
// also dropped from the lookup, so the next plan finds them again.
func (p *Plan) KeepReferrers(want []Referrer) error {
	keep := map[string]bool{}
	for _, r := range want {
		keep[r.key()] = true
	}
	var kept []*referrerNode
	have := map[string]bool{}
	for _, r := range p.referrers {
		if keep[r.key()] {
			kept = append(kept, r)
			have[r.key()] = true
		}
	}
	var gone []string
	for _, r := range want {
		if !have[r.key()] {
			gone = append(gone, DescribeReferrer(r))
		}
	}
	if len(gone) > 0 {
		return fmt.Errorf("the source no longer has what the plan showed: %s; run terraform plan again", strings.Join(gone, "; "))
	}
	var found []string
	for _, k := range p.ReferrerLookup.Found {
		if keep[k] || !slices.ContainsFunc(p.referrers, func(r *referrerNode) bool { return r.key() == k }) {
			found = append(found, k)
		}
	}
	p.ReferrerLookup.Found = found
	p.referrers = kept
	p.Referrers = nil
	for _, r := range kept {
		p.Referrers = append(p.Referrers, r.Referrer)
	}
	return nil
}

// DescribeReferrer names a referrer for messages: its cosign tag or digest, its artifact type
// and its subject.
func DescribeReferrer(r Referrer) string {
	what := "referrer " + r.Digest
	if r.Tag != "" {
		what = fmt.Sprintf("cosign tag %s (%s)", r.Tag, r.Digest)
	}
	if r.ArtifactType != "" {
		what += ", artifact type " + r.ArtifactType
	}
	return what + ", of " + r.Subject
}

func referrerKeys(rs []Referrer) []string {
	keys := make([]string, 0, len(rs))
	for _, r := range rs {
		keys = append(keys, r.key())
	}
	return keys
}

// findReferrers lists the referrers of subjects at repo: per subject its OCI referrers, ordered
// by digest, then its cosign tags in CosignSuffixes order; subjects in the order given. Each
// referrer appears once per subject and tag.
func (e *Engine) findReferrers(ctx context.Context, repo name.Repository, subjects []string) ([]Referrer, error) {
	if l := e.layoutOf(repo); l != nil {
		return l.findReferrers(subjects) // layout_referrers.go
	}
	f := &referrerFinder{e: e, repo: repo}
	perSubject := make([][][]Referrer, len(subjects)) // subject → lookup (OCI, then each suffix)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.jobs)
	for i, subject := range subjects {
		perSubject[i] = make([][]Referrer, 1+len(CosignSuffixes))
		g.Go(func() error {
			rs, err := f.oci(gctx, subject)
			perSubject[i][0] = rs
			return err
		})
		for j, suffix := range CosignSuffixes {
			g.Go(func() error {
				r, ok, err := f.cosign(gctx, subject, suffix)
				if ok {
					perSubject[i][1+j] = []Referrer{r}
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
			for _, r := range rs {
				if !seen[r.key()] {
					seen[r.key()] = true
					out = append(out, r)
				}
			}
		}
	}
	return out, nil
}

// referrerFinder looks for referrers in one repository.
type referrerFinder struct {
	e    *Engine
	repo name.Repository
}

// apiMissing reports whether the registry has shown that it lacks the referrers API.
func (f *referrerFinder) apiMissing() bool {
	_, missing := f.e.noReferrersAPI.Load(f.repo.RegistryStr())
	return missing
}

// fallbackTag is the tag under which registries without the referrers API keep the referrers
// of the manifest with the given digest: "sha256-<hex>".
func fallbackTag(repo name.Repository, digest string) name.Tag {
	return repo.Tag(strings.Replace(digest, ":", "-", 1))
}

// oci returns the OCI referrers of subject, ordered by digest.
func (f *referrerFinder) oci(ctx context.Context, subject string) ([]Referrer, error) {
	ref := f.repo.Digest(subject)
	var im *v1.IndexManifest
	if f.apiMissing() {
		tag := fallbackTag(f.repo, subject)
		d, err := remote.Get(tag, f.e.remote(ctx)...)
		if isNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, f.e.explain("reading the referrers of", ref, err)
		}
		if d.MediaType != types.OCIImageIndex {
			return nil, fmt.Errorf("reading the referrers of %s: the referrers tag %s is a %s, not an OCI image index", ref, tag, d.MediaType)
		}
		if im, err = v1.ParseIndexManifest(bytes.NewReader(d.Manifest)); err != nil {
			return nil, fmt.Errorf("reading the referrers of %s: the referrers tag %s does not parse: %w", ref, tag, err)
		}
	} else {
		idx, err := remote.Referrers(ref, f.e.remote(ctx)...)
		if err != nil {
			return nil, f.e.explain("listing the referrers of", ref, err)
		}
		if idx == empty.Index {
			// go-containerregistry answers so only when the registry has no referrers API (it
			// answered 404, which the OCI distribution specification forbids a registry with
			// the API to do) and there is no fallback tag: from now on, read the fallback tag
			// directly.
			f.e.noReferrersAPI.Store(f.repo.RegistryStr(), struct{}{})
			return nil, nil
		}
		if im, err = idx.IndexManifest(); err != nil {
			return nil, fmt.Errorf("listing the referrers of %s: %w", ref, err)
		}
	}
	if len(im.Manifests) > MaxIndexEntries {
		return nil, fmt.Errorf("%s has %d referrers, more than the %d this provider accepts", ref, len(im.Manifests), MaxIndexEntries)
	}
	var out []Referrer
	for _, d := range im.Manifests {
		if d.Digest.Algorithm != "sha256" {
			return nil, fmt.Errorf("a referrer of %s has digest %q; only sha256 digests are supported", ref, d.Digest)
		}
		if d.Digest.String() == subject {
			continue
		}
		out = append(out, Referrer{
			Digest: d.Digest.String(), MediaType: string(d.MediaType), Size: d.Size,
			ArtifactType: d.ArtifactType, Subject: subject,
		})
	}
	slices.SortFunc(out, func(a, b Referrer) int { return strings.Compare(a.Digest, b.Digest) })
	return out, nil
}

// cosign looks for cosign's tag sha256-<hex><suffix> of subject (HEAD).
func (f *referrerFinder) cosign(ctx context.Context, subject, suffix string) (Referrer, bool, error) {
	tag := fallbackTag(f.repo, subject).TagStr() + suffix
	ref := f.repo.Tag(tag)
	d, err := remote.Head(ref, f.e.remote(ctx)...)
	if isNotFound(err) {
		return Referrer{}, false, nil
	}
	if err != nil {
		return Referrer{}, false, f.e.explain("checking", ref, err)
	}
	if d.Digest.Algorithm != "sha256" {
		return Referrer{}, false, fmt.Errorf("%s points at %q; only sha256 digests are supported", ref, d.Digest)
	}
	return Referrer{Digest: d.Digest.String(), MediaType: string(d.MediaType), Size: d.Size, Subject: subject, Tag: tag}, true, nil
}

// readReferrer reads a referrer's manifest, and the manifests it lists when it is an index. It
// returns nil without an error for a listed referrer that cannot be copied: its manifest is gone
// (a fallback tag is not updated when a referrer is deleted), or, for an OCI referrer, it does
// not refer to the subject (a client could not find it by the subject at the target either).
func (e *Engine) readReferrer(ctx context.Context, repo name.Repository, r Referrer) (*node, error) {
	h, err := v1.NewHash(r.Digest)
	if err != nil {
		return nil, err
	}
	n := &node{desc: v1.Descriptor{Digest: h, MediaType: types.MediaType(r.MediaType), Size: r.Size}, kept: true}
	if !isManifestType(n.desc.MediaType) {
		n.desc.MediaType = "" // take what the registry serves
	}
	err = e.fetch(ctx, repo, n)
	if IsNotFound(err) {
		e.log(ctx, "a listed referrer is gone from the source; it is not copied", map[string]any{"referrer": DescribeReferrer(r)})
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", DescribeReferrer(r), err)
	}
	if r.Tag == "" && subjectOf(n.raw) != r.Subject {
		e.log(ctx, "a listed referrer does not refer to its subject; it is not copied", map[string]any{"referrer": DescribeReferrer(r)})
		return nil, nil
	}
	if err := e.readReferrerTree(ctx, repo, n, 0); err != nil {
		return nil, fmt.Errorf("reading %s: %w", DescribeReferrer(r), err)
	}
	n.visitKept(func(c *node) {
		c.out = c.raw
		c.outDigest = c.desc.Digest.String()
	})
	return n, nil
}

// subjectOf returns the digest of a manifest's subject; empty when it has none.
func subjectOf(raw []byte) string {
	var m struct {
		Subject *v1.Descriptor `json:"subject"`
	}
	if json.Unmarshal(raw, &m) != nil || m.Subject == nil {
		return ""
	}
	return m.Subject.Digest.String()
}

// readReferrerTree reads every manifest that the referrer index n lists, recursively.
func (e *Engine) readReferrerTree(ctx context.Context, repo name.Repository, n *node, depth int) error {
	if !n.isIndex {
		return nil
	}
	manifests, err := n.indexEntries(depth)
	if err != nil {
		return err
	}
	for _, d := range manifests {
		c := &node{desc: d, kept: true, isIndex: isIndexType(d.MediaType)}
		if err := e.fetch(ctx, repo, c); err != nil {
			return err
		}
		if err := e.readReferrerTree(ctx, repo, c, depth+1); err != nil {
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

// artifactTypeOf is what the OCI referrers API reports as a manifest's artifact type: its
// artifactType, else its config media type. For a cosign tag whose manifest has a plain image
// config (cosign writes one), the media type of its first layer says more.
func artifactTypeOf(raw []byte, cosign bool) string {
	var m struct {
		ArtifactType string `json:"artifactType"`
		Config       struct {
			MediaType string `json:"mediaType"`
		} `json:"config"`
		Layers []struct {
			MediaType string `json:"mediaType"`
		} `json:"layers"`
	}
	if json.Unmarshal(raw, &m) != nil {
		return ""
	}
	if m.ArtifactType != "" {
		return m.ArtifactType
	}
	if cosign && len(m.Layers) > 0 {
		switch types.MediaType(m.Config.MediaType) {
		case "", types.OCIConfigJSON, types.DockerConfigJSON, "application/vnd.oci.empty.v1+json":
			return m.Layers[0].MediaType
		}
	}
	return m.Config.MediaType
}

// referrerManifests lists every manifest of every referrer of the plan, once, children before
// their index.
func (p *Plan) referrerManifests() []*node {
	var manifests []*node
	seen := map[string]bool{}
	for _, r := range p.referrers {
		r.node.visitKept(func(n *node) {
			if !seen[n.outDigest] {
				seen[n.outDigest] = true
				manifests = append(manifests, n)
			}
		})
	}
	return manifests
}

// applyReferrers copies the plan's referrers to dst, after their subjects: the blobs the target
// lacks, then each referrer's manifests (those of a referrer index first) by digest, then each
// cosign tag; then it makes sure the target lists every OCI referrer.
func (e *Engine) applyReferrers(ctx context.Context, t *transfers, dst name.Repository, p *Plan) error {
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
			ok, err := e.manifestExists(gctx, t, dst.Digest(n.outDigest))
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
			d, err := t.puller.Head(gctx, dst.Tag(r.Tag))
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
	if err := e.copyBlobs(ctx, t, p.src.Repo, dst, blobs, &scratch); err != nil {
		return fmt.Errorf("copying the blobs of referrers: %w", err)
	}
	// One at a time: go-containerregistry merges an OCI referrer into the subject's fallback
	// tag with a read and a write, which concurrent pushes for one subject would race.
	pushed := 0
	for _, n := range manifests {
		if have[n.outDigest] {
			continue
		}
		ref := dst.Digest(n.outDigest)
		if err := t.pusher.Put(ctx, ref, rawManifest{n.out, n.desc.MediaType}); err != nil {
			return e.explain("pushing referrer", ref, err)
		}
		pushed++
	}
	for _, r := range p.referrers {
		if r.Tag == "" || tagged[r.Tag] {
			continue
		}
		tag := dst.Tag(r.Tag)
		if err := t.pusher.Put(ctx, tag, rawManifest{r.node.out, r.node.desc.MediaType}); err != nil {
			return e.explain("tagging", tag, err)
		}
		pushed++
	}
	if err := e.ensureListed(ctx, t, dst, p.referrers); err != nil {
		return err
	}
	e.log(ctx, "referrers copied", map[string]any{
		"target": dst.Name(), "referrers": len(p.referrers), "manifests_pushed": pushed, "blobs": len(blobs),
		"blobs_uploaded": scratch.BlobsUploaded, "blobs_mounted": scratch.BlobsMounted, "blobs_skipped": scratch.BlobsSkipped,
	})
	return nil
}

// listRounds bounds how often ensureListed pushes unlisted referrers again.
const listRounds = 3

// ensureListed lists, as clients do (referrers API, else fallback tag), the referrers of every
// subject that has OCI referrers at dst, and pushes those not listed again, so that
// go-containerregistry merges them into the fallback tag once more.
func (e *Engine) ensureListed(ctx context.Context, t *transfers, dst name.Repository, refs []*referrerNode) error {
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
		ref := dst.Digest(subject)
		for round := 1; ; round++ {
			idx, err := remote.Referrers(ref, e.remote(ctx)...)
			if err != nil {
				return e.explain("listing the referrers of", ref, err)
			}
			im, err := idx.IndexManifest()
			if err != nil {
				return fmt.Errorf("listing the referrers of %s: %w", ref, err)
			}
			listed := map[string]bool{}
			for _, d := range im.Manifests {
				listed[d.Digest.String()] = true
			}
			var missing []*referrerNode
			for _, r := range bySubject[subject] {
				if !listed[r.Digest] {
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
			e.log(ctx, "the target does not list referrers it holds; pushing them again", map[string]any{"subject": ref.String(), "missing": len(missing)})
			for _, r := range missing {
				if err := t.pusher.Put(ctx, dst.Digest(r.Digest), rawManifest{r.node.out, r.node.desc.MediaType}); err != nil {
					return fmt.Errorf("pushing referrer %s: %w", dst.Digest(r.Digest), err)
				}
			}
		}
	}
	return nil
}

// checkReferrers returns the referrers that are gone from the target (HEAD requests only): a
// cosign referrer whose tag is gone or points elsewhere, an OCI referrer whose manifest is gone.
func (e *Engine) checkReferrers(ctx context.Context, repo name.Repository, want []Referrer) ([]Referrer, error) {
	missing := make([]bool, len(want))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.jobs)
	for i, r := range want {
		g.Go(func() error {
			ref := repo.Digest(r.Digest).String()
			if r.Tag != "" {
				ref = repo.Tag(r.Tag).String()
			}
			got, err := e.head(gctx, ref)
			if errors.Is(err, errNotFound) || (err == nil && got != r.Digest) {
				missing[i] = true
				return nil
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []Referrer
	for i, r := range want {
		if missing[i] {
			out = append(out, r)
		}
	}
	return out, nil
}
