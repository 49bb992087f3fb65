package mirror

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// RecordVersion is the version of the record format that Marshal writes. LoadRecord reads it and
// every earlier one.
const RecordVersion = 1

// Record is what one apply put at the target, as the provider keeps it (in the resource's
// private state): what plans compare with to ask the source one question instead of reading it,
// what refresh checks at the target, and what destroy deletes. Its JSON field names are a stored
// format: change them only with a new RecordVersion that LoadRecord still reads the old one of.
type Record struct {
	// SourceDigest is what the source resolved to; Selection what, besides it, decides the
	// content.
	SourceDigest string    `json:"source_digest"`
	Selection    Selection `json:"selection"`
	// Digest is the top manifest's digest at the target.
	Digest string `json:"digest"`
	// Repository and Tag say where it is (Tag empty: pushed by digest only); Traits how the
	// target differs from a registry.
	Repository string       `json:"repository"`
	Tag        string       `json:"tag"`
	Traits     store.Traits `json:"traits"`
	// Manifests lists the copied image manifests that have a platform, in index order.
	Manifests []Manifest `json:"manifests"`
	// Size counts each distinct blob and manifest the mirror holds once.
	Size int64 `json:"size"`
	// Platforms lists every platform the source lists, in index order, attestations excluded.
	Platforms []string `json:"platforms"`
	// Sparse is true when the target index is the source's but some of its children are not
	// copied.
	Sparse bool `json:"sparse"`
	// Children lists every copied manifest below the top (indexes and attestations included,
	// Platform empty where the manifest has none), children before their parents.
	Children []Manifest `json:"children"`
	// Referrers lists, with Selection.Referrers, what refers to the copied manifests and was
	// copied with them (Size does not count them); ReferrerLookup is what planning compares to
	// notice new ones at the source (see Replan).
	Referrers      []Referrer      `json:"referrers,omitempty"`
	ReferrerLookup *ReferrerLookup `json:"referrer_lookup,omitempty"`
	// VerifiedBy names who signed SourceDigest, when Spec.Verify asked; PolicyDigest identifies
	// the verify blocks it was verified under, so a plan under the same blocks keeps it (Replan).
	VerifiedBy   []string `json:"verified_by,omitempty"`
	PolicyDigest string   `json:"policy_digest,omitempty"`
}

// Selection is what, besides the source digest, decides the content of a mirror.
type Selection struct {
	Platforms    []string  `json:"platforms"`
	IndexMode    IndexMode `json:"index_mode"`
	Attestations bool      `json:"attestations"`
	Referrers    bool      `json:"referrers,omitempty"`
}

func selectionOf(s Spec) Selection {
	mode := s.IndexMode
	if mode == "" {
		mode = ModePreserve
	}
	return Selection{Platforms: s.Platforms, IndexMode: mode, Attestations: s.Attestations, Referrers: s.Referrers}
}

// Equal reports whether two selections decide the same content.
func (s Selection) Equal(o Selection) bool {
	return slices.Equal(s.Platforms, o.Platforms) && s.IndexMode == o.IndexMode && s.Attestations == o.Attestations &&
		s.Referrers == o.Referrers
}

// ID is <repository>@<digest>.
func (r Record) ID() string { return r.Repository + "@" + r.Digest }

// Ref is <repository>[:<tag>]@<digest>, what a Kubernetes manifest should use; <repository>@<digest>
// where references do not name tags (an OCI image layout).
func (r Record) Ref() string { return r.RefAt(r.Digest) }

// RefAt is Ref for another digest under the same tag: what the target's tag points at after
// drift.
func (r Record) RefAt(digest string) string {
	if r.Tag == "" || r.Traits.RefOmitsName {
		return r.Repository + "@" + digest
	}
	return r.Repository + ":" + r.Tag + "@" + digest
}

// ChildDigests are the digests of the copied manifests below the top.
func (r Record) ChildDigests() []string {
	out := make([]string, 0, len(r.Children))
	for _, m := range r.Children {
		out = append(out, m.Digest)
	}
	return out
}

// DescribeManifest says what kind of manifest a copied digest is: an image of a platform, a
// nested index, or a manifest without a platform (a BuildKit attestation, for instance).
func (r Record) DescribeManifest(digest string) string {
	i := slices.IndexFunc(r.Children, func(m Manifest) bool { return m.Digest == digest })
	switch {
	case i < 0:
		return "manifest"
	case r.Children[i].Platform != "":
		return "image manifest for " + r.Children[i].Platform
	case types.MediaType(r.Children[i].MediaType).IsIndex():
		return "nested index"
	}
	return "manifest without a platform (an attestation or artifact)"
}

// WithDrift is the record as the target holds it after drift d: the digest the tag points at,
// and without what is missing (Size less the missing manifests, each counted once).
func (r Record) WithDrift(d *Drift) Record {
	held := r
	if d.Current != "" {
		held.Digest = d.Current
	}
	missing := map[string]bool{}
	for _, m := range d.MissingManifests {
		missing[m] = true
	}
	held.Manifests = slices.DeleteFunc(slices.Clone(r.Manifests), func(m Manifest) bool { return missing[m.Digest] })
	for _, m := range r.Children {
		if missing[m.Digest] {
			held.Size -= m.Size
			delete(missing, m.Digest)
		}
	}
	held.Referrers = slices.DeleteFunc(slices.Clone(r.Referrers), func(x Referrer) bool { return slices.Contains(d.MissingReferrers, x) })
	return held
}

// Marshal encodes the record in the current format, with its version.
func (r Record) Marshal() ([]byte, error) {
	return json.Marshal(struct {
		Version int `json:"version"`
		Record
	}{RecordVersion, r})
}

// LoadRecord decodes a record that Marshal wrote, of this or an earlier version.
func LoadRecord(raw []byte) (Record, error) {
	var head struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return Record{}, fmt.Errorf("the mirror record does not parse: %w", err)
	}
	var r Record
	switch head.Version {
	case 0:
		var err error
		if r, err = loadRecordV0(raw); err != nil {
			return Record{}, err
		}
	case RecordVersion:
		if err := json.Unmarshal(raw, &r); err != nil {
			return Record{}, fmt.Errorf("the mirror record does not parse: %w", err)
		}
	default:
		return Record{}, fmt.Errorf("the mirror record has version %d; this provider reads up to %d", head.Version, RecordVersion)
	}
	if r.Digest == "" {
		return Record{}, fmt.Errorf("the mirror record names no digest")
	}
	return r, nil
}

// recordV0 is the record of the first releases: no version, every copied manifest in Copied with
// the top last, manifests with Go field names, and no target traits.
type recordV0 struct {
	SourceDigest   string          `json:"source_digest"`
	Selection      Selection       `json:"selection"`
	Digest         string          `json:"digest"`
	Repository     string          `json:"repository"`
	Tag            string          `json:"tag"`
	Manifests      []manifestV0    `json:"manifests"`
	Size           int64           `json:"size"`
	Platforms      []string        `json:"platforms"`
	Sparse         bool            `json:"sparse"`
	Copied         []manifestV0    `json:"copied"`
	Referrers      []Referrer      `json:"referrers"`
	ReferrerLookup *ReferrerLookup `json:"referrer_lookup"`
}

type manifestV0 struct {
	Platform, Digest, MediaType string
	Size                        int64
}

// layoutPrefixV0 marks the repository of an OCI image layout target in a version 0 record,
// whose refs then omit the tag.
const layoutPrefixV0 = "oci-layout://"

func loadRecordV0(raw []byte) (Record, error) {
	var v0 recordV0
	if err := json.Unmarshal(raw, &v0); err != nil {
		return Record{}, fmt.Errorf("the mirror record does not parse: %w", err)
	}
	manifests := func(ms []manifestV0) []Manifest {
		out := make([]Manifest, 0, len(ms))
		for _, m := range ms {
			out = append(out, Manifest(m))
		}
		return out
	}
	r := Record{
		SourceDigest: v0.SourceDigest, Selection: v0.Selection, Digest: v0.Digest, Repository: v0.Repository, Tag: v0.Tag,
		Manifests: manifests(v0.Manifests), Size: v0.Size, Platforms: v0.Platforms, Sparse: v0.Sparse,
		Referrers: v0.Referrers, ReferrerLookup: v0.ReferrerLookup,
	}
	if len(v0.Copied) > 0 {
		r.Children = manifests(v0.Copied[:len(v0.Copied)-1])
	}
	if strings.HasPrefix(v0.Repository, layoutPrefixV0) {
		r.Traits = store.Traits{RefOmitsName: true, KeepsUnnamed: true, AcceptsSparse: true}
	}
	return r, nil
}
