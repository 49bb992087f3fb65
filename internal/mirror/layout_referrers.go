package mirror

// Referrers and OCI image layouts (DESIGN.md: "referrers travel into a layout as further
// index.json entries of their own (their subject inside them), so the second hop finds them").
//
// In a layout, the referrers of a manifest are the index.json entries
//
//   - whose manifest has that manifest as its subject (an OCI 1.1 referrer). The entry has no
//     org.opencontainers.image.ref.name (the image-layout specification allows that);
//   - whose ref name is cosign's tag for it, "sha256-<hex>.sig", ".att" or ".sbom";
//   - listed by the index of an entry whose ref name is the fallback tag "sha256-<hex>" (as a
//     registry without the referrers API keeps them; this engine does not write such entries,
//     but reads them).
//
// Apply to a layout writes each referrer's blobs and manifests, then adds its entry: an OCI
// referrer once (an entry without ref name of that digest is kept as it is), a cosign referrer
// under its tag (replacing the entry of that tag). Check looks for the entries and their
// manifest files. Delete removes, with the mirror's entry, the referrer entries whose subject
// no remaining entry reaches, and then the blobs no entry reaches.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// cosignSubject returns the subject digest and the index in CosignSuffixes of a cosign tag
// "sha256-<hex><suffix>"; ok is false for any other name.
func cosignSubject(tag string) (subject string, suffix int, ok bool) {
	for i, s := range CosignSuffixes {
		if rest, found := strings.CutSuffix(tag, s); found {
			if d, isFallback := fallbackSubject(rest); isFallback {
				return d, i, true
			}
		}
	}
	return "", 0, false
}

// fallbackSubject returns the digest that a fallback tag "sha256-<hex>" stands for.
func fallbackSubject(tag string) (string, bool) {
	hexPart, ok := strings.CutPrefix(tag, "sha256-")
	if !ok {
		return "", false
	}
	h, err := v1.NewHash("sha256:" + hexPart)
	if err != nil {
		return "", false
	}
	return h.String(), true
}

// mayHaveSubject tells whether a manifest of this media type can carry a subject (OCI types,
// or unknown: the manifest says).
func mayHaveSubject(mt types.MediaType) bool {
	return mt == "" || mt == types.OCIManifestSchema1 || mt == types.OCIImageIndex
}

// findReferrers lists the referrers of subjects among the entries of index.json, in the order
// of the registry lookup: per subject its OCI referrers ordered by digest, then its cosign
// tags in CosignSuffixes order.
func (l *layoutStore) findReferrers(subjects []string) ([]Referrer, error) {
	idx, err := l.readIndex()
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s is not an OCI image layout (it has no index.json): %w", l.display, errNotFound)
	}
	if err != nil {
		return nil, err
	}
	type found struct {
		oci    []Referrer
		cosign []*Referrer
	}
	per := map[string]*found{}
	for _, s := range subjects {
		per[s] = &found{cosign: make([]*Referrer, len(CosignSuffixes))}
	}
	addOCI := func(subject string, d v1.Descriptor) {
		if d.Digest.Algorithm != "sha256" || d.Digest.String() == subject {
			return
		}
		f := per[subject]
		if slices.ContainsFunc(f.oci, func(r Referrer) bool { return r.Digest == d.Digest.String() }) {
			return
		}
		f.oci = append(f.oci, Referrer{Digest: d.Digest.String(), MediaType: string(d.MediaType), Size: d.Size,
			ArtifactType: d.ArtifactType, Subject: subject})
	}
	for _, d := range idx.Manifests {
		refName := d.Annotations[AnnotationRefName]
		if s, i, ok := cosignSubject(refName); ok {
			if f := per[s]; f != nil && d.Digest.Algorithm == "sha256" && f.cosign[i] == nil {
				f.cosign[i] = &Referrer{Digest: d.Digest.String(), MediaType: string(d.MediaType), Size: d.Size, Subject: s, Tag: refName}
			}
			continue
		}
		if !mayHaveSubject(d.MediaType) && !isIndexType(d.MediaType) {
			continue
		}
		raw, err := l.readManifest(d.Digest.String())
		if errors.Is(err, errNotFound) {
			continue // an entry whose manifest is gone refers to nothing
		}
		if err != nil {
			return nil, err
		}
		if s, ok := fallbackSubject(refName); ok && per[s] != nil {
			var im v1.IndexManifest
			if json.Unmarshal(raw, &im) == nil {
				for _, c := range im.Manifests {
					addOCI(s, c) // readReferrer checks that it refers to s
				}
			}
			continue
		}
		if s := subjectOf(raw); per[s] != nil {
			d.MediaType = mediaTypeOf(raw, d.MediaType)
			d.Size = int64(len(raw))
			if d.ArtifactType == "" {
				d.ArtifactType = artifactTypeOf(raw, false)
			}
			addOCI(s, d)
		}
	}
	var out []Referrer
	seen := map[string]bool{}
	add := func(r Referrer) {
		if !seen[r.key()] {
			seen[r.key()] = true
			out = append(out, r)
		}
	}
	for _, s := range subjects {
		f := per[s]
		slices.SortFunc(f.oci, func(a, b Referrer) int { return strings.Compare(a.Digest, b.Digest) })
		for _, r := range f.oci {
			add(r)
		}
		for _, r := range f.cosign {
			if r != nil {
				add(*r)
			}
		}
	}
	return out, nil
}

// referrerEntry is the index.json entry of a referrer: an OCI referrer without ref name and
// with its artifact type, a cosign referrer under its tag.
func referrerEntry(r *referrerNode) v1.Descriptor {
	h, _ := v1.NewHash(r.Digest)
	d := v1.Descriptor{MediaType: r.node.desc.MediaType, Digest: h, Size: int64(len(r.node.out))}
	if r.Tag != "" {
		d.Annotations = map[string]string{AnnotationRefName: r.Tag}
	} else {
		d.ArtifactType = artifactTypeOf(r.node.out, false)
	}
	return d
}

// applyLayoutReferrers writes the plan's referrers into the layout, after their subjects: the
// blobs it lacks, the manifests (those of a referrer index first), then their index.json
// entries. The caller holds the shared garbage collection lock.
func (e *Engine) applyLayoutReferrers(ctx context.Context, p *Plan, l *layoutStore) error {
	if len(p.referrers) == 0 {
		return nil
	}
	manifests := p.referrerManifests()
	var st Stats
	if err := e.writeLayoutBlobs(ctx, l, p.src.Repo, blobsOf(manifests, nil), &st); err != nil {
		return fmt.Errorf("copying the blobs of referrers: %w", err)
	}
	written := 0
	for _, n := range manifests {
		if l.hasBlob(n.outDigest, int64(len(n.out))) {
			continue
		}
		h, _ := v1.NewHash(n.outDigest)
		if _, err := l.writeBlob(v1.Descriptor{Digest: h, Size: int64(len(n.out))}, bytes.NewReader(n.out)); err != nil {
			return fmt.Errorf("writing referrer manifest %s to layout %s: %w", n.outDigest, l.display, err)
		}
		written++
	}
	err := l.update(func(entries []v1.Descriptor) ([]v1.Descriptor, bool) {
		changed := false
		for _, r := range p.referrers {
			want := referrerEntry(r)
			if r.Tag == "" {
				if !slices.ContainsFunc(entries, func(d v1.Descriptor) bool {
					return d.Digest == want.Digest && d.Annotations[AnnotationRefName] == ""
				}) {
					entries = append(entries, want)
					changed = true
				}
				continue
			}
			i := slices.IndexFunc(entries, func(d v1.Descriptor) bool { return d.Annotations[AnnotationRefName] == r.Tag })
			switch {
			case i < 0:
				entries = append(entries, want)
				changed = true
			case !sameDescriptor(entries[i], want):
				entries[i] = want
				changed = true
			}
		}
		return entries, changed
	})
	if err != nil {
		return err
	}
	e.log(ctx, "referrers copied", map[string]any{
		"target": l.display, "referrers": len(p.referrers), "manifests_written": written,
		"blobs_written": st.BlobsUploaded, "blobs_skipped": st.BlobsSkipped,
	})
	return nil
}

// missingLayoutReferrers returns the referrers of want that the layout no longer lists: a cosign
// referrer whose entry is gone or points elsewhere, an OCI referrer without an entry; or whose
// manifest file is gone.
func (l *layoutStore) missingLayoutReferrers(entries []v1.Descriptor, want []Referrer) []Referrer {
	var out []Referrer
	for _, r := range want {
		listed := slices.ContainsFunc(entries, func(d v1.Descriptor) bool {
			if r.Tag != "" {
				return d.Annotations[AnnotationRefName] == r.Tag && d.Digest.String() == r.Digest
			}
			return d.Digest.String() == r.Digest
		})
		if !listed || !l.hasBlob(r.Digest, -1) {
			out = append(out, r)
		}
	}
	return out
}

// dropOrphanReferrers removes from remaining the referrer entries (OCI referrers without ref
// name, cosign tags) whose subject the removed entries reached and no remaining entry reaches.
func (l *layoutStore) dropOrphanReferrers(removed, remaining []v1.Descriptor) []v1.Descriptor {
	before := l.reachable(removed)
	after := l.reachable(remaining)
	orphan := func(s string) bool { return s != "" && before[s] && !after[s] }
	var out []v1.Descriptor
	for _, d := range remaining {
		refName := d.Annotations[AnnotationRefName]
		if s, _, ok := cosignSubject(refName); ok && orphan(s) {
			continue
		}
		if refName == "" && mayHaveSubject(d.MediaType) {
			if raw, err := l.readManifest(d.Digest.String()); err == nil && orphan(subjectOf(raw)) {
				continue
			}
		}
		out = append(out, d)
	}
	return out
}
