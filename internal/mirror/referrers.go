package mirror

import (
	"fmt"
	"slices"
)

// Referrers (Spec.Referrers): what refers to the copied manifests travels with them. For each
// subject (every copied manifest that the target gets unchanged) the engine looks at the source
// for its OCI 1.1 referrers (store.Reader.Referrers) and cosign's tags "sha256-<hex>.sig", ".att"
// and ".sbom" (store.Reader.Resolve), and reads each with everything it references
// (referrers_find.go). Apply pushes them after their subject, then makes sure the target lists
// them (referrers_copy.go); Check asks for each (check.go).

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

// ReferrerLookup is what planning needs to notice, cheaply, that referrers appeared at (or went
// from) the source since the last apply: the subjects whose referrers were looked for, and what
// was found (including listed referrers that were not copied because their manifest is gone or
// refers to something else). Replan compares it with a new lookup (lookupReferrers).
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

// KeepReferrers drops the referrers of the plan that want does not list (by subject, digest and
// tag), so that apply copies the referrers the plan showed even when more appeared at the source
// since. It fails with a *ReferrersGoneError when one that want lists is no longer at the source.
// Dropped referrers are also dropped from the lookup, so the next plan finds them again.
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
	var gone []Referrer
	for _, r := range want {
		if !have[r.key()] {
			gone = append(gone, r)
		}
	}
	if len(gone) > 0 {
		return &ReferrersGoneError{Referrers: gone}
	}
	if p.ReferrerLookup != nil {
		var found []string
		for _, k := range p.ReferrerLookup.Found {
			if keep[k] || !slices.ContainsFunc(p.referrers, func(r *referrerNode) bool { return r.key() == k }) {
				found = append(found, k)
			}
		}
		p.ReferrerLookup = &ReferrerLookup{Subjects: p.ReferrerLookup.Subjects, Found: found}
	}
	p.referrers = kept
	p.Referrers = nil
	for _, r := range kept {
		p.Referrers = append(p.Referrers, r.Referrer)
	}
	return nil
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
