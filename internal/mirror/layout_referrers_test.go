package mirror

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
	"github.com/zarf-dev/terraform-provider-zarf/internal/store/layout"
)

// TestLayoutReferrers carries referrers over two hops, registry → layout → registry (and layout
// → layout): in the layout they are index.json entries of their own (OCI referrers without ref
// name, cosign tags under their tag), found again by the second hop; drift and destroy handle
// them.
func TestLayoutReferrers(t *testing.T) {
	for _, dstAPI := range []bool{false, true} {
		t.Run(fmt.Sprintf("target API %t", dstAPI), func(t *testing.T) {
			src, dst := newTestRegistry(t), newRegistryWithReferrers(t, dstAPI)
			f := newReferrersFixture(t, src.writer(t, "library/app"))
			e := testEngine(t, src, dst)
			dir := filepath.Join(t.TempDir(), "images")
			lay := layout.Prefix + dir
			wantReferrers := []Referrer{
				f.oci(f.bundleAMD, f.images[0], exampleBundle),
				f.cosign(f.sigAMD, f.images[0].Digest),
				f.oci(f.sbomARM, f.images[1], exampleSBOM),
				f.cosign(f.sigTop, f.digest),
			}

			// registry → layout
			p, err := e.Plan(t.Context(), Spec{Source: f.ref(), Target: lay, Attestations: true, Referrers: true})
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
				if !ok || d.Annotations[store.AnnotationRefName] != r.Tag || d.Annotations[store.AnnotationBaseName] != "" {
					t.Errorf("entry of %s: %+v", DescribeReferrer(r), d)
				}
				if r.Tag == "" && d.ArtifactType != r.ArtifactType {
					t.Errorf("entry of %s: artifact type %q", r.Digest, d.ArtifactType)
				}
			}
			if !hasLayoutBlob(dir, f.bundlePart.Digest) {
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
			target := dst.writer(t, "final/app")
			p2, err := e.Plan(t.Context(), Spec{Source: lay + ":" + f.tag, Target: target.String(), Attestations: true, Referrers: true})
			if err != nil {
				t.Fatal(err)
			}
			checkReferrers(t, p2.Referrers, wantReferrers)
			lookup, err := e.lookupReferrers(t.Context(), p2.src.Store, p2.ReferrerLookup.Subjects)
			if err != nil || !lookup.Equal(*p2.ReferrerLookup) {
				t.Fatalf("lookupReferrers in a layout: %+v, %v; plan %+v", lookup, err, p2.ReferrerLookup)
			}
			if _, err := e.Apply(t.Context(), p2); err != nil {
				t.Fatal(err)
			}
			if p2.Digest != f.digest {
				t.Fatalf("digest %s, want %s", p2.Digest, f.digest)
			}
			checkTargetHolds(t, targetOf(t, e, p2), p2)
			for _, sig := range []struct {
				img     testImage
				subject string
			}{{f.sigTop, f.digest}, {f.sigAMD, f.images[0].Digest}} {
				if got, _, status := dst.getRaw(t, "final/app", registrytest.CosignTag(sig.subject, ".sig")); status != http.StatusOK || string(got) != string(sig.img.Raw) {
					t.Errorf("cosign tag of %s: HTTP %d", sig.subject, status)
				}
			}
			if got := registrytest.Referrers(t, target.String(), f.images[1].Digest); !slices.Equal(got, []string{f.sbomARM.Digest}) {
				t.Errorf("referrers of arm64 at the final registry: %v", got)
			}
			if got := registrytest.Referrers(t, target.String(), f.images[0].Digest); !slices.Equal(got, []string{f.bundleAMD.Digest}) {
				t.Errorf("referrers of amd64 at the final registry: %v", got)
			}
			if d, err := e.Check(t.Context(), target.String(), p2.Record); err != nil ||
				len(d.MissingReferrers) != 0 {
				t.Fatalf("check at the final registry: %+v %v", d, err)
			}

			// layout → layout
			dir2 := filepath.Join(t.TempDir(), "images")
			p3, err := e.Plan(t.Context(), Spec{Source: lay + ":" + f.tag, Target: layout.Prefix + dir2, Attestations: true, Referrers: true})
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
			want := p.Record
			if d, err := e.Check(t.Context(), lay, want); err != nil || d.Drifted(want) {
				t.Fatalf("drift right after apply: %+v %v", d, err)
			}
			editLayoutIndex(t, dir, func(es []v1.Descriptor) []v1.Descriptor {
				return slices.DeleteFunc(es, func(d v1.Descriptor) bool {
					return d.Annotations[store.AnnotationRefName] == registrytest.CosignTag(f.images[0].Digest, ".sig")
				})
			})
			if err := os.Remove(layoutBlob(dir, f.sbomARM.Digest)); err != nil {
				t.Fatal(err)
			}
			d, err := e.Check(t.Context(), lay, want)
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
			if d, err := e.Check(t.Context(), lay, want); err != nil || d.Drifted(want) {
				t.Fatalf("after repair: %+v %v", d, err)
			}

			// destroy: a second mirror of the same index keeps the referrers; the last one
			// takes them along, and every blob.
			other, err := e.Plan(t.Context(), Spec{Source: f.ref(), Target: lay + ":other", Attestations: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.Apply(t.Context(), other); err != nil {
				t.Fatal(err)
			}
			if err := e.Delete(t.Context(), lay, p.Record); err != nil {
				t.Fatal(err)
			}
			if got := checkLayoutStructure(t, dir); len(got) != 5 || got[len(got)-1].Annotations[store.AnnotationRefName] == f.tag {
				t.Fatalf("after destroying one of two mirrors: %+v", got)
			}
			if err := e.Delete(t.Context(), lay, other.Record); err != nil {
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
	f := newReferrersFixture(t, src.writer(t, "library/app"))
	e := testEngine(t, src)
	dir := t.TempDir()
	lay := layout.Prefix + dir
	p, err := e.Plan(t.Context(), Spec{Source: f.ref(), Target: lay, Attestations: true, Referrers: true, Platforms: []string{"linux/arm64"}, IndexMode: ModeFilter})
	if err != nil {
		t.Fatal(err)
	}
	checkReferrers(t, p.Referrers, []Referrer{f.oci(f.sbomARM, f.images[1], exampleSBOM)})
	if _, err := e.Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	// someone adds a named entry for the SBOM
	editLayoutIndex(t, dir, func(es []v1.Descriptor) []v1.Descriptor {
		d := es[1]
		d.Annotations = map[string]string{store.AnnotationRefName: "sbom"}
		return append(es, d)
	})
	if err := e.Delete(t.Context(), lay, p.Record); err != nil {
		t.Fatal(err)
	}
	got := checkLayoutStructure(t, dir)
	if len(got) != 1 || got[0].Annotations[store.AnnotationRefName] != "sbom" || got[0].Digest.String() != f.sbomARM.Digest {
		t.Fatalf("entries %+v", got)
	}
}

// TestLayoutFallbackTagEntry: a layout source whose referrers are listed by an entry named by
// the fallback tag sha256-<hex> (an index of referrers) gives them as well.
func TestLayoutFallbackTagEntry(t *testing.T) {
	src := newTestRegistry(t)
	f := newReferrersFixture(t, src.writer(t, "library/app"))
	e := testEngine(t, src)
	dir := t.TempDir()
	lay := layout.Prefix + dir
	p, err := e.Plan(t.Context(), Spec{Source: f.ref(), Target: lay, Attestations: true, Referrers: true, Platforms: []string{"linux/arm64"}, IndexMode: ModeFilter})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	raw := registrytest.HandIndex(types.OCIImageIndex, registrytest.ImageEntry(f.sbomARM))
	if err := os.WriteFile(layoutBlob(dir, sha256Digest(raw)), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	h, _ := v1.NewHash(sha256Digest(raw))
	editLayoutIndex(t, dir, func(es []v1.Descriptor) []v1.Descriptor {
		es = slices.DeleteFunc(es, func(d v1.Descriptor) bool { return d.Digest.String() == f.sbomARM.Digest })
		return append(es, v1.Descriptor{MediaType: types.OCIImageIndex, Digest: h, Size: int64(len(raw)),
			Annotations: map[string]string{store.AnnotationRefName: registrytest.CosignTag(f.images[1].Digest, "")}})
	})
	p2, err := e.Plan(t.Context(), Spec{Source: lay + ":" + f.tag, Attestations: true, Referrers: true})
	if err != nil {
		t.Fatal(err)
	}
	checkReferrers(t, p2.Referrers, []Referrer{f.oci(f.sbomARM, f.images[1], exampleSBOM)})
}
