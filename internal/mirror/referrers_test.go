package mirror

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
)

// Artifact types of the referrers the tests write.
const (
	exampleSBOM   = "application/vnd.example.sbom"
	exampleBundle = "application/vnd.example.bundle"
)

// referrersFixture is the OCI index fixture (three platforms with BuildKit attestations) with
// referrers: a cosign signature of the index and of the amd64 image, an index referrer (with a
// child) of the amd64 image, and an SBOM artifact of the arm64 image.
type referrersFixture struct {
	*indexFixture
	sigTop, sigAMD, sbomARM, bundleAMD, bundlePart testImage
}

func newReferrersFixture(t *testing.T, w *registrytest.Writer) *referrersFixture {
	t.Helper()
	f := &referrersFixture{indexFixture: newIndexFixture(t, w, false)}
	f.sigTop = w.Cosign(f.digest, ".sig")
	f.sigAMD = w.Cosign(f.images[0].Digest, ".sig")
	f.bundleAMD, f.bundlePart = w.ArtifactIndex(exampleBundle, f.images[0].Descriptor())
	f.sbomARM = w.Artifact(exampleSBOM, f.images[1].Descriptor(), `{"spdxVersion":"SPDX-2.3","name":"arm64"}`)
	return f
}

func (f *referrersFixture) oci(r, subject testImage, artifactType string) Referrer {
	return Referrer{Digest: r.Digest, MediaType: string(r.MediaType), Size: int64(len(r.Raw)), ArtifactType: artifactType, Subject: subject.Digest}
}

func (f *referrersFixture) cosign(r testImage, subject string) Referrer {
	return Referrer{Digest: r.Digest, MediaType: string(r.MediaType), Size: int64(len(r.Raw)), ArtifactType: registrytest.CosignSimpleSigning,
		Subject: subject, Tag: registrytest.CosignTag(subject, ".sig")}
}

func checkReferrers(t *testing.T, got, want []Referrer) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("referrers:\n got %+v\nwant %+v", got, want)
	}
}

func TestPlanReferrers(t *testing.T) {
	for _, api := range []bool{false, true} {
		t.Run(fmt.Sprintf("referrers API %t", api), func(t *testing.T) {
			src := newRegistryWithReferrers(t, api)
			f := newReferrersFixture(t, src.writer(t, "library/app"))
			e := testEngine(t, src)
			plan := func(spec Spec) *Plan {
				t.Helper()
				spec.Source, spec.Attestations = f.ref(), true
				p, err := e.Plan(t.Context(), spec)
				if err != nil {
					t.Fatal(err)
				}
				return p
			}
			without := plan(Spec{})
			all := plan(Spec{Referrers: true})
			// Per subject (children in index order, the top last): OCI referrers, then cosign tags.
			checkReferrers(t, all.Referrers, []Referrer{
				f.oci(f.bundleAMD, f.images[0], exampleBundle),
				f.cosign(f.sigAMD, f.images[0].Digest),
				f.oci(f.sbomARM, f.images[1], exampleSBOM),
				f.cosign(f.sigTop, f.digest),
			})
			// Referrers are not counted in Size nor listed in Children; attestations are both.
			if all.Size != without.Size || !slices.Equal(all.Children, without.Children) {
				t.Errorf("with referrers: size %d, children %v; without: size %d, children %v", all.Size, all.Children, without.Size, without.Children)
			}
			checkCopied(t, all, append(slices.Clone(f.images), f.atts...), f.index)
			if want := expectedSize([][]byte{f.index}, append(slices.Clone(f.images), f.atts...)...); all.Size != want {
				t.Errorf("size %d, want %d (images and attestations)", all.Size, want)
			}
			if len(all.ReferrerLookup.Subjects) != 7 || len(all.ReferrerLookup.Found) != 4 {
				t.Errorf("lookup %+v: want 7 subjects (3 images, 3 attestations, the index) and 4 found", all.ReferrerLookup)
			}

			// A platform subset keeps exactly the referrers of what it keeps; in preserve mode the
			// index is the source's, so its signature travels.
			checkReferrers(t, plan(Spec{Referrers: true, Platforms: []string{"linux/arm64"}}).Referrers, []Referrer{
				f.oci(f.sbomARM, f.images[1], exampleSBOM),
				f.cosign(f.sigTop, f.digest),
			})
			// In filter mode the index is new: only the referrers of the copied manifests.
			filtered := plan(Spec{Referrers: true, Platforms: []string{"linux/amd64"}, IndexMode: ModeFilter})
			checkReferrers(t, filtered.Referrers, []Referrer{
				f.oci(f.bundleAMD, f.images[0], exampleBundle),
				f.cosign(f.sigAMD, f.images[0].Digest),
			})
			if slices.Contains(filtered.ReferrerLookup.Subjects, f.digest) || slices.Contains(filtered.ReferrerLookup.Subjects, filtered.Digest) {
				t.Errorf("filter mode looked for referrers of an index: %v", filtered.ReferrerLookup.Subjects)
			}

			// Without referrers, nothing is asked about them.
			src.requests()
			plan(Spec{})
			for _, r := range src.requests() {
				if strings.Contains(r.Path, "/referrers/") || strings.Contains(r.Path, "sha256-") {
					t.Errorf("referrers = false sent %s %s", r.Method, r.Path)
				}
			}
		})
	}
}

func TestPlanSingleManifestReferrers(t *testing.T) {
	env := newMemoryEnv()
	repo := env.writer(t, "library/one")
	img := repo.HandImage("linux/amd64", false)
	repo.Raw("v1", img.MediaType, img.Raw)
	sig := repo.Cosign(img.Digest, ".sig")
	att := repo.Cosign(img.Digest, ".att")
	p, err := env.e.Plan(t.Context(), Spec{Source: repo.String() + ":v1", Referrers: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []Referrer{{Digest: sig.Digest, MediaType: string(sig.MediaType), Size: int64(len(sig.Raw)), ArtifactType: registrytest.CosignSimpleSigning, Subject: img.Digest, Tag: registrytest.CosignTag(img.Digest, ".sig")},
		{Digest: att.Digest, MediaType: string(att.MediaType), Size: int64(len(att.Raw)), ArtifactType: registrytest.DSSEEnvelope, Subject: img.Digest, Tag: registrytest.CosignTag(img.Digest, ".att")}}
	checkReferrers(t, p.Referrers, want)
}

// TestLookupReferrersRequests checks what noticing new referrers costs: one request per subject
// for its OCI referrers (plus, without the referrers API, one per lookup made before the registry
// showed that it lacks it) and one HEAD per cosign tag.
func TestLookupReferrersRequests(t *testing.T) {
	for _, api := range []bool{false, true} {
		t.Run(fmt.Sprintf("referrers API %t", api), func(t *testing.T) {
			src := newRegistryWithReferrers(t, api)
			f := newReferrersFixture(t, src.writer(t, "library/app"))
			e := New(WithScheme(testClient(t, src)), WithJobs(1)) // one at a time: the count is exact
			p, err := e.Plan(t.Context(), Spec{Source: f.ref(), Attestations: true, Referrers: true})
			if err != nil {
				t.Fatal(err)
			}
			src.requests()
			lookup, err := e.lookupReferrers(t.Context(), p.src.Store, p.ReferrerLookup.Subjects)
			if err != nil {
				t.Fatal(err)
			}
			if !lookup.Equal(*p.ReferrerLookup) {
				t.Fatalf("lookup %+v, the plan's %+v", lookup, p.ReferrerLookup)
			}
			subjects := len(p.ReferrerLookup.Subjects)
			var heads, gets int
			for _, r := range src.requests() {
				switch {
				case r.Path == "/v2/":
				case r.Method == http.MethodHead && strings.Contains(r.Path, "/manifests/sha256-"):
					heads++
				case r.Method == http.MethodGet:
					gets++
				default:
					t.Errorf("unexpected request %s %s", r.Method, r.Path)
				}
			}
			wantGets := subjects
			if !api {
				// Lookups go through remote.Referrers (API, then fallback tag) until a subject
				// without referrers shows that the API is missing: the amd64 and arm64 images
				// have referrers, arm/v7 has none; from then on, one GET of the fallback tag.
				wantGets = subjects + 3
			}
			if heads != 3*subjects || gets > wantGets {
				t.Errorf("%d HEAD and %d GET requests for %d subjects; want %d HEAD and at most %d GET", heads, gets, subjects, 3*subjects, wantGets)
			}

			// A new signature at the source changes the lookup.
			f.w.Cosign(f.images[2].Digest, ".att")
			lookup, err = e.lookupReferrers(t.Context(), p.src.Store, p.ReferrerLookup.Subjects)
			if err != nil {
				t.Fatal(err)
			}
			if lookup.Equal(*p.ReferrerLookup) {
				t.Fatal("a new cosign attestation did not change the lookup")
			}
		})
	}
}

// TestPlanReferrersSkipsStaleFallbackEntries: a fallback tag is not updated when a referrer is
// deleted; the listed referrer whose manifest is gone is not copied (but is part of the lookup).
func TestPlanReferrersSkipsStaleFallbackEntries(t *testing.T) {
	src := newTestRegistry(t)
	f := newReferrersFixture(t, src.writer(t, "library/app"))
	src.deleteRaw(t, "library/app", f.sbomARM.Digest)
	p, err := testEngine(t, src).Plan(t.Context(), Spec{Source: f.ref(), Attestations: true, Referrers: true, Platforms: []string{"linux/arm64"}})
	if err != nil {
		t.Fatal(err)
	}
	checkReferrers(t, p.Referrers, []Referrer{f.cosign(f.sigTop, f.digest)})
	if len(p.ReferrerLookup.Found) != 2 {
		t.Errorf("lookup found %v, want the stale entry and the signature", p.ReferrerLookup.Found)
	}
}

func TestKeepReferrers(t *testing.T) {
	env := newMemoryEnv()
	f := newReferrersFixture(t, env.writer(t, "library/app"))
	p, err := env.e.Plan(t.Context(), Spec{Source: f.ref(), Attestations: true, Referrers: true})
	if err != nil {
		t.Fatal(err)
	}
	all := slices.Clone(p.Referrers)
	if err := p.KeepReferrers(all); err != nil || !slices.Equal(p.Referrers, all) {
		t.Fatalf("keeping all: %v, %v", err, p.Referrers)
	}
	if err := p.KeepReferrers(all[1:]); err != nil {
		t.Fatal(err)
	}
	checkReferrers(t, p.Referrers, all[1:])
	if slices.Contains(p.ReferrerLookup.Found, all[0].key()) || len(p.ReferrerLookup.Found) != len(all)-1 {
		t.Errorf("a dropped referrer stays in the lookup %v, so the next plan would not find it again", p.ReferrerLookup.Found)
	}
	gone := all[0]
	gone.Digest = sha256Digest([]byte("gone"))
	var goneErr *ReferrersGoneError
	if err := p.KeepReferrers([]Referrer{gone}); !errors.As(err, &goneErr) || !slices.Equal(goneErr.Referrers, []Referrer{gone}) {
		t.Fatalf("keeping a referrer the source does not have: %v", err)
	}
}

// indexOfPut returns the position of the first manifest PUT to a path ending in suffix.
func indexOfPut(reqs []recordedRequest, suffix string) int {
	return slices.IndexFunc(reqs, func(r recordedRequest) bool {
		return r.Method == http.MethodPut && strings.Contains(r.Path, "/manifests/") && strings.HasSuffix(r.Path, suffix)
	})
}

func TestApplyReferrers(t *testing.T) {
	for _, c := range []struct{ srcAPI, dstAPI bool }{{false, false}, {true, true}, {false, true}, {true, false}} {
		t.Run(fmt.Sprintf("source API %t, target API %t", c.srcAPI, c.dstAPI), func(t *testing.T) {
			src, dst := newRegistryWithReferrers(t, c.srcAPI), newRegistryWithReferrers(t, c.dstAPI)
			f := newReferrersFixture(t, src.writer(t, "library/app"))
			target := dst.writer(t, "mirror/app")
			// Someone else's referrer of the arm64 image is at the target already: it stays.
			theirs := target.Artifact("application/vnd.other.sbom", f.images[1].Descriptor(), `{"theirs":true}`)
			e := testEngine(t, src, dst)
			spec := Spec{Source: f.ref(), Target: target.String(), Attestations: true, Referrers: true}
			p, err := e.Plan(t.Context(), spec)
			if err != nil {
				t.Fatal(err)
			}
			dst.requests()
			if _, err := e.Apply(t.Context(), p); err != nil {
				t.Fatal(err)
			}
			reqs := dst.requests()
			checkTargetHolds(t, targetOf(t, e, p), p)

			// Cosign tags: the same bytes under the same tag.
			for _, sig := range []struct {
				img     testImage
				subject string
			}{{f.sigTop, f.digest}, {f.sigAMD, f.images[0].Digest}} {
				got, _, status := dst.getRaw(t, "mirror/app", registrytest.CosignTag(sig.subject, ".sig"))
				if status != http.StatusOK || string(got) != string(sig.img.Raw) {
					t.Errorf("cosign tag of %s: HTTP %d, %s", sig.subject, status, got)
				}
			}
			// OCI referrers: found as clients find them, the others' entry kept.
			if got, want := registrytest.Referrers(t, target.String(), f.images[1].Digest), sortedOf(f.sbomARM.Digest, theirs.Digest); !slices.Equal(got, want) {
				t.Errorf("referrers of arm64 at the target: %v, want %v", got, want)
			}
			if got := registrytest.Referrers(t, target.String(), f.images[0].Digest); !slices.Equal(got, []string{f.bundleAMD.Digest}) {
				t.Errorf("referrers of amd64 at the target: %v, want the bundle %s", got, f.bundleAMD.Digest)
			}
			_, _, fallback := dst.getRaw(t, "mirror/app", registrytest.CosignTag(f.images[1].Digest, ""))
			if want := map[bool]int{false: http.StatusOK, true: http.StatusNotFound}[c.dstAPI]; fallback != want {
				t.Errorf("fallback tag at the target: HTTP %d, want %d", fallback, want)
			}
			// Everything a referrer references is there: the bundle's child and the blobs.
			for _, img := range []testImage{f.sigTop, f.sigAMD, f.sbomARM, f.bundleAMD, f.bundlePart} {
				if _, _, status := dst.getRaw(t, "mirror/app", img.Digest); status != http.StatusOK {
					t.Errorf("%s: HTTP %d at the target", img.Digest, status)
				}
				for _, b := range img.Blobs {
					if status := headBlob(t, dst, "mirror/app", b.Digest.String()); status != http.StatusOK {
						t.Errorf("blob %s of %s: HTTP %d at the target", b.Digest, img.Digest, status)
					}
				}
			}
			// Referrers come after their subjects.
			for _, pair := range [][2]string{
				{f.images[1].Digest, f.sbomARM.Digest}, {f.images[0].Digest, f.bundleAMD.Digest},
				{f.bundlePart.Digest, f.bundleAMD.Digest}, {"/" + f.tag, registrytest.CosignTag(f.digest, ".sig")}, {f.digest, registrytest.CosignTag(f.digest, ".sig")},
			} {
				before, after := indexOfPut(reqs, pair[0]), indexOfPut(reqs, pair[1])
				if before < 0 || after < 0 || before > after {
					t.Errorf("PUT %s at %d, PUT %s at %d: want the first before the second", pair[0], before, pair[1], after)
				}
			}

			// Again: nothing is pushed.
			p, err = e.Plan(t.Context(), spec)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.Apply(t.Context(), p); err != nil {
				t.Fatal(err)
			}
			for _, r := range dst.requests() {
				if r.Method != http.MethodGet && r.Method != http.MethodHead {
					t.Errorf("second apply sent %s %s", r.Method, r.Path)
				}
			}
		})
	}
}

func sortedOf(s ...string) []string {
	slices.Sort(s)
	return s
}

// headBlob asks dst with a HEAD request for a blob of repo and returns the HTTP status.
func headBlob(t *testing.T, dst *testRegistry, repo, digest string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodHead, dst.srv.URL+"/v2/"+repo+"/blobs/"+digest, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := dst.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestApplyRepairsFallbackTag: when the target holds the referrer but its fallback tag lost the
// entry (another writer replaced it), apply adds the entry again.
func TestApplyRepairsFallbackTag(t *testing.T) {
	src, dst := newTestRegistry(t), newTestRegistry(t)
	f := newReferrersFixture(t, src.writer(t, "library/app"))
	target := dst.writer(t, "mirror/app")
	e := testEngine(t, src, dst)
	spec := Spec{Source: f.ref(), Target: target.String(), Attestations: true, Referrers: true, Platforms: []string{"linux/arm64"}, IndexMode: ModeFilter}
	p, err := e.Plan(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	// Another writer replaces the fallback tag with an index that lists only its own referrer.
	target.Raw(registrytest.CosignTag(f.images[1].Digest, ""), types.OCIImageIndex, registrytest.HandIndex(types.OCIImageIndex, registrytest.ImageEntry(f.atts[1])))
	if _, err := e.Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	if got := registrytest.Referrers(t, target.String(), f.images[1].Digest); !slices.Contains(got, f.sbomARM.Digest) || !slices.Contains(got, f.atts[1].Digest) {
		t.Errorf("fallback tag lists %v, want the SBOM %s added to the other writer's entry", got, f.sbomARM.Digest)
	}
}

func TestCheckReferrers(t *testing.T) {
	src, dst := newTestRegistry(t), newTestRegistry(t)
	f := newReferrersFixture(t, src.writer(t, "library/app"))
	target := dst.writer(t, "mirror/app")
	e := testEngine(t, src, dst)
	p, err := e.Plan(t.Context(), Spec{Source: f.ref(), Target: target.String(), Attestations: true, Referrers: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	want := p.Record
	dst.requests()
	d, err := e.Check(t.Context(), target.String(), want)
	if err != nil {
		t.Fatal(err)
	}
	if d.Drifted(want) {
		t.Fatalf("drift right after apply: %+v", d)
	}
	for _, r := range dst.requests() {
		if r.Method != http.MethodHead && r.Path != "/v2/" {
			t.Errorf("Check sent %s %s; HEAD only", r.Method, r.Path)
		}
	}
	// A deleted signature tag and a deleted SBOM are drift, named.
	dst.deleteRaw(t, "mirror/app", registrytest.CosignTag(f.images[0].Digest, ".sig"))
	dst.deleteRaw(t, "mirror/app", f.sbomARM.Digest)
	d, err = e.Check(t.Context(), target.String(), want)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Drifted(want) || d.Gone || d.Current != p.Digest {
		t.Fatalf("drift %+v", d)
	}
	checkReferrers(t, d.MissingReferrers, []Referrer{
		f.cosign(f.sigAMD, f.images[0].Digest),
		f.oci(f.sbomARM, f.images[1], exampleSBOM),
	})
	// A signature tag that points elsewhere is missing too.
	target.Raw(registrytest.CosignTag(f.digest, ".sig"), f.images[2].MediaType, f.images[2].Raw)
	if d, err = e.Check(t.Context(), target.String(), want); err != nil {
		t.Fatal(err)
	}
	if len(d.MissingReferrers) != 3 || d.MissingReferrers[2].Tag != registrytest.CosignTag(f.digest, ".sig") {
		t.Fatalf("missing %+v, want the index signature as well", d.MissingReferrers)
	}
	// Apply repairs it.
	if _, err := e.Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	if d, err = e.Check(t.Context(), target.String(), want); err != nil || d.Drifted(want) {
		t.Fatalf("after repair: %+v, %v", d, err)
	}
}
