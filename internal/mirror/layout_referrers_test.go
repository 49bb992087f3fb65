package mirror

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestLayoutReferrers carries referrers over two hops, registry → layout → registry (and layout
// → layout): in the layout they are index.json entries of their own (OCI referrers without ref
// name, cosign tags under their tag), found again by the second hop; drift and destroy handle
// them.
func TestLayoutReferrers(t *testing.T) {
	for _, dstAPI := range []bool{false, true} {
		t.Run(fmt.Sprintf("target API %t", dstAPI), func(t *testing.T) {
			src, dst := newTestRegistry(t), newRegistryWithReferrers(t, dstAPI)
			f := newReferrersFixture(t, src)
			e := testEngine()
			dir := filepath.Join(t.TempDir(), "images")
			layout := LayoutScheme + dir
			wantReferrers := []Referrer{
				f.oci(f.bundleAMD, f.images[0], exampleBundle),
				f.cosign(f.sigAMD, f.images[0].Digest),
				f.oci(f.sbomARM, f.images[1], exampleSBOM),
				f.cosign(f.sigTop, f.digest),
			}

			// registry → layout
			p, err := e.Plan(t.Context(), Spec{Source: f.ref(), Target: layout, Attestations: true, Referrers: true})
			if err != nil {
				t.Fatal(err)
			}
			checkReferrers(t, p.Referrers, wantReferrers)
			if _, err := e.Apply(t.Context(), p); err != nil {
				t.Fatal(err)
			}
			entries := checkLayoutStructure(t, dir) // every blob of every entry is there
			byDigest := map[string]v1.Descriptor{}
			for _, d := range entries {
				byDigest[d.Digest.String()] = d
			}
			if len(entries) != 5 {
				t.Fatalf("%d entries, want the mirror and its 4 referrers: %+v", len(entries), entries)
			}
			for _, r := range wantReferrers {
				d, ok := byDigest[r.Digest]
				if !ok || d.Annotations[AnnotationRefName] != r.Tag || d.Annotations[AnnotationBaseName] != "" {
					t.Errorf("entry of %s: %+v", DescribeReferrer(r), d)
				}
				if r.Tag == "" && d.ArtifactType != r.ArtifactType {
					t.Errorf("entry of %s: artifact type %q", r.Digest, d.ArtifactType)
				}
			}
			l := &layoutStore{display: dir, dir: dir}
			if !l.hasBlob(f.bundlePart.Digest, -1) {
				t.Error("the child of the referrer index is not in the layout")
			}
			before, _ := os.ReadFile(filepath.Join(dir, "index.json"))
			if _, err := e.Apply(t.Context(), p); err != nil { // again: index.json unchanged
				t.Fatal(err)
			}
			if after, _ := os.ReadFile(filepath.Join(dir, "index.json")); string(after) != string(before) {
				t.Errorf("re-apply changed index.json:\n%s\n%s", before, after)
			}

			// layout → registry: the same referrers, found in the layout, land at the target.
			target := dst.repo(t, "final/app")
			p2, err := e.Plan(t.Context(), Spec{Source: layout + ":" + f.tag, Target: target.name(""), Attestations: true, Referrers: true})
			if err != nil {
				t.Fatal(err)
			}
			checkReferrers(t, p2.Referrers, wantReferrers)
			lookup, err := e.FindReferrers(t.Context(), layout+":"+f.tag, p2.ReferrerLookup.Subjects)
			if err != nil || !lookup.Equal(p2.ReferrerLookup) {
				t.Fatalf("FindReferrers in a layout: %+v, %v; plan %+v", lookup, err, p2.ReferrerLookup)
			}
			if _, err := e.Apply(t.Context(), p2); err != nil {
				t.Fatal(err)
			}
			if p2.Digest != f.digest {
				t.Fatalf("digest %s, want %s", p2.Digest, f.digest)
			}
			checkTargetHolds(t, dst, p2)
			for _, sig := range []struct {
				img     testImage
				subject string
			}{{f.sigTop, f.digest}, {f.sigAMD, f.images[0].Digest}} {
				if got, _, status := dst.getRaw(t, target.path, cosignTag(sig.subject, ".sig")); status != http.StatusOK || string(got) != string(sig.img.Raw) {
					t.Errorf("cosign tag of %s: HTTP %d", sig.subject, status)
				}
			}
			if got := listReferrers(t, target.repo, f.images[1].Digest); !slices.Equal(got, []string{f.sbomARM.Digest}) {
				t.Errorf("referrers of arm64 at the final registry: %v", got)
			}
			if got := listReferrers(t, target.repo, f.images[0].Digest); !slices.Equal(got, []string{f.bundleAMD.Digest}) {
				t.Errorf("referrers of amd64 at the final registry: %v", got)
			}
			if d, err := e.Check(t.Context(), Expected{Target: target.name(""), Tag: p2.TargetTag, Digest: p2.Digest, Referrers: p2.Referrers}); err != nil ||
				len(d.MissingReferrers) != 0 {
				t.Fatalf("check at the final registry: %+v %v", d, err)
			}

			// layout → layout
			dir2 := filepath.Join(t.TempDir(), "images")
			p3, err := e.Plan(t.Context(), Spec{Source: layout + ":" + f.tag, Target: LayoutScheme + dir2, Attestations: true, Referrers: true})
			if err != nil {
				t.Fatal(err)
			}
			checkReferrers(t, p3.Referrers, wantReferrers)
			if _, err := e.Apply(t.Context(), p3); err != nil {
				t.Fatal(err)
			}
			if got := checkLayoutStructure(t, dir2); len(got) != 5 {
				t.Fatalf("second layout: %d entries", len(got))
			}

			// drift in the layout: a cosign entry gone, an OCI referrer's manifest file gone
			want := Expected{Target: layout, Tag: p.TargetTag, Digest: p.Digest, Referrers: p.Referrers}
			if d, err := e.Check(t.Context(), want); err != nil || d.Drifted(want) {
				t.Fatalf("drift right after apply: %+v %v", d, err)
			}
			if err := l.update(func(es []v1.Descriptor) ([]v1.Descriptor, bool) {
				return slices.DeleteFunc(es, func(d v1.Descriptor) bool {
					return d.Annotations[AnnotationRefName] == cosignTag(f.images[0].Digest, ".sig")
				}), true
			}); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(l.blobPath(f.sbomARM.Digest)); err != nil {
				t.Fatal(err)
			}
			d, err := e.Check(t.Context(), want)
			if err != nil {
				t.Fatal(err)
			}
			checkReferrers(t, d.MissingReferrers, []Referrer{wantReferrers[1], wantReferrers[2]})
			if !d.Drifted(want) || d.Gone || d.Current != p.Digest {
				t.Fatalf("drift %+v", d)
			}
			if _, err := e.Apply(t.Context(), p); err != nil { // repair
				t.Fatal(err)
			}
			if d, err := e.Check(t.Context(), want); err != nil || d.Drifted(want) {
				t.Fatalf("after repair: %+v %v", d, err)
			}

			// destroy: a second mirror of the same index keeps the referrers; the last one
			// takes them along, and every blob.
			other, err := e.Plan(t.Context(), Spec{Source: f.ref(), Target: layout + ":other", Attestations: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.Apply(t.Context(), other); err != nil {
				t.Fatal(err)
			}
			if err := e.Delete(t.Context(), layout, p.TargetTag, p.Digest); err != nil {
				t.Fatal(err)
			}
			if got := checkLayoutStructure(t, dir); len(got) != 5 || got[len(got)-1].Annotations[AnnotationRefName] == f.tag {
				t.Fatalf("after destroying one of two mirrors: %+v", got)
			}
			if err := e.Delete(t.Context(), layout, "other", other.Digest); err != nil {
				t.Fatal(err)
			}
			files, _ := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
			if got := checkLayoutStructure(t, dir); len(got) != 0 || len(files) != 0 {
				t.Fatalf("after destroying both: entries %+v, %d blobs", got, len(files))
			}
		})
	}
}

// TestLayoutReferrersKeepOthers: destroy leaves referrer entries whose subject is not the
// mirror's, and entries with a subject that carry a ref name.
func TestLayoutReferrersKeepOthers(t *testing.T) {
	src := newTestRegistry(t)
	f := newReferrersFixture(t, src)
	e := testEngine()
	dir := t.TempDir()
	layout := LayoutScheme + dir
	p, err := e.Plan(t.Context(), Spec{Source: f.ref(), Target: layout, Attestations: true, Referrers: true, Platforms: []string{"linux/arm64"}, IndexMode: ModeFilter})
	if err != nil {
		t.Fatal(err)
	}
	checkReferrers(t, p.Referrers, []Referrer{f.oci(f.sbomARM, f.images[1], exampleSBOM)})
	if _, err := e.Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	// someone adds a named entry for the SBOM
	l := &layoutStore{display: dir, dir: dir}
	if err := l.update(func(es []v1.Descriptor) ([]v1.Descriptor, bool) {
		d := es[1]
		d.Annotations = map[string]string{AnnotationRefName: "sbom"}
		return append(es, d), true
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.Delete(t.Context(), layout, p.TargetTag, p.Digest); err != nil {
		t.Fatal(err)
	}
	got := checkLayoutStructure(t, dir)
	if len(got) != 1 || got[0].Annotations[AnnotationRefName] != "sbom" || got[0].Digest.String() != f.sbomARM.Digest {
		t.Fatalf("entries %+v", got)
	}
}

// TestLayoutFallbackTagEntry: a layout source whose referrers are listed by an entry named by
// the fallback tag sha256-<hex> (an index of referrers) gives them as well.
func TestLayoutFallbackTagEntry(t *testing.T) {
	src := newTestRegistry(t)
	f := newReferrersFixture(t, src)
	e := testEngine()
	dir := t.TempDir()
	layout := LayoutScheme + dir
	p, err := e.Plan(t.Context(), Spec{Source: f.ref(), Target: layout, Attestations: true, Referrers: true, Platforms: []string{"linux/arm64"}, IndexMode: ModeFilter})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	l := &layoutStore{display: dir, dir: dir}
	raw := indexJSON(types.OCIImageIndex, imageEntry(f.sbomARM))
	h, _ := v1.NewHash(sha256Digest(raw))
	if _, err := l.writeBlob(v1.Descriptor{Digest: h, Size: int64(len(raw))}, bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	if err := l.update(func(es []v1.Descriptor) ([]v1.Descriptor, bool) {
		es = slices.DeleteFunc(es, func(d v1.Descriptor) bool { return d.Digest.String() == f.sbomARM.Digest })
		return append(es, v1.Descriptor{MediaType: types.OCIImageIndex, Digest: h, Size: int64(len(raw)),
			Annotations: map[string]string{AnnotationRefName: cosignTag(f.images[1].Digest, "")}}), true
	}); err != nil {
		t.Fatal(err)
	}
	p2, err := e.Plan(t.Context(), Spec{Source: layout + ":" + f.tag, Attestations: true, Referrers: true})
	if err != nil {
		t.Fatal(err)
	}
	checkReferrers(t, p2.Referrers, []Referrer{f.oci(f.sbomARM, f.images[1], exampleSBOM)})
}
