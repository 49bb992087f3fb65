package mirror

import (
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Media types of the referrers the tests push.
const (
	cosignSimpleSigning = "application/vnd.dev.cosign.simplesigning.v1+json"
	cosignSignatureKey  = "dev.cosignproject.cosign/signature"
	exampleSBOM         = "application/vnd.example.sbom"
	exampleBundle       = "application/vnd.example.bundle"
	ociEmptyJSON        = "application/vnd.oci.empty.v1+json"
)

// newRegistryWithReferrers is a recording in-process registry like newTestRegistry, with the
// OCI referrers API when api is true. Without it, go-containerregistry's writes of manifests with
// a subject maintain the sha256-<hex> fallback tag, as with the distribution registry.
func newRegistryWithReferrers(t testing.TB, api bool) *testRegistry {
	t.Helper()
	if !api {
		return newTestRegistry(t)
	}
	r := &testRegistry{}
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(true))
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.reqs = append(r.reqs, recordedRequest{Method: req.Method, Path: req.URL.Path, ContentType: req.Header.Get("Content-Type")})
		r.mu.Unlock()
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(r.srv.Close)
	r.host = strings.TrimPrefix(r.srv.URL, "http://")
	return r
}

// cosignTag is cosign's tag for what refers to digest: sha256-<hex><suffix>.
func cosignTag(digest, suffix string) string { return strings.Replace(digest, ":", "-", 1) + suffix }

// pushCosignSignature pushes, as cosign does, a signature of subject under the tag
// sha256-<hex><suffix>: an OCI image manifest with an image config and one simple-signing layer
// annotated with the signature.
func (r *testRepo) pushCosignSignature(subject, suffix string) testImage {
	r.t.Helper()
	payload := fmt.Sprintf(`{"critical":{"identity":{"docker-reference":%q},"image":{"docker-manifest-digest":%q},"type":"cosign container image signature"},"optional":null}`,
		r.repo.Name(), subject)
	layer := r.pushBlob([]byte(payload), cosignSimpleSigning)
	config := r.pushBlob([]byte(fmt.Sprintf(`{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[%q]}}`, layer.Digest)), types.OCIConfigJSON)
	sig := base64.StdEncoding.EncodeToString([]byte("signature of " + subject + suffix))
	raw := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":%s,"layers":[{"mediaType":%q,"size":%d,"digest":%q,"annotations":{%q:%q}}]}`,
		types.OCIManifestSchema1, descJSON(config), layer.MediaType, layer.Size, layer.Digest, cosignSignatureKey, sig))
	return testImage{Digest: r.pushManifest(cosignTag(subject, suffix), raw, types.OCIManifestSchema1), MediaType: types.OCIManifestSchema1, Raw: raw,
		Blobs: []v1.Descriptor{config, layer}}
}

// pushArtifact pushes by digest an OCI 1.1 artifact manifest whose subject is the manifest
// subject (of media type mt and size size): empty config, one layer. go-containerregistry adds
// it to the fallback tag when the registry has no referrers API.
func (r *testRepo) pushArtifact(artifactType string, subject testImage, content string) testImage {
	r.t.Helper()
	config := r.pushBlob([]byte("{}"), ociEmptyJSON)
	layer := r.pushBlob([]byte(content), "application/spdx+json")
	raw := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"artifactType":%q,"config":%s,"layers":[%s],"subject":{"mediaType":%q,"digest":%q,"size":%d},"annotations":{"org.opencontainers.image.created":"2024-01-01T00:00:00Z"}}`,
		types.OCIManifestSchema1, artifactType, descJSON(config), descJSON(layer), subject.MediaType, subject.Digest, len(subject.Raw)))
	return testImage{Digest: r.pushManifest("", raw, types.OCIManifestSchema1), MediaType: types.OCIManifestSchema1, Raw: raw, Blobs: []v1.Descriptor{config, layer}}
}

// pushArtifactIndex pushes an OCI index with a subject that lists one manifest (an artifact
// without subject): a referrer that is itself an index.
func (r *testRepo) pushArtifactIndex(subject testImage) (index, child testImage) {
	r.t.Helper()
	config := r.pushBlob([]byte("{}"), ociEmptyJSON)
	layer := r.pushBlob([]byte(`{"bundle":"part of `+subject.Digest+`"}`), "application/vnd.example.part")
	childRaw := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"artifactType":"application/vnd.example.part","config":%s,"layers":[%s]}`,
		types.OCIManifestSchema1, descJSON(config), descJSON(layer)))
	child = testImage{Digest: r.pushManifest("", childRaw, types.OCIManifestSchema1), MediaType: types.OCIManifestSchema1, Raw: childRaw, Blobs: []v1.Descriptor{config, layer}}
	raw := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"artifactType":%q,"manifests":[{"mediaType":%q,"digest":%q,"size":%d}],"subject":{"mediaType":%q,"digest":%q,"size":%d}}`,
		types.OCIImageIndex, exampleBundle, child.MediaType, child.Digest, len(childRaw), subject.MediaType, subject.Digest, len(subject.Raw)))
	index = testImage{Digest: r.pushManifest("", raw, types.OCIImageIndex), MediaType: types.OCIImageIndex, Raw: raw}
	return index, child
}

// referrersFixture is the OCI index fixture (three platforms with BuildKit attestations) with
// referrers: a cosign signature of the index and of the amd64 image, an index referrer (with a
// child) of the amd64 image, and an SBOM artifact of the arm64 image.
type referrersFixture struct {
	*indexFixture
	sigTop, sigAMD, sbomARM, bundleAMD, bundlePart testImage
}

func newReferrersFixture(t *testing.T, reg *testRegistry) *referrersFixture {
	t.Helper()
	f := &referrersFixture{indexFixture: newIndexFixture(t, reg, "library/app", false)}
	top := testImage{Digest: f.digest, MediaType: f.mt, Raw: f.index}
	f.sigTop = f.repo.pushCosignSignature(top.Digest, ".sig")
	f.sigAMD = f.repo.pushCosignSignature(f.images[0].Digest, ".sig")
	f.bundleAMD, f.bundlePart = f.repo.pushArtifactIndex(f.images[0])
	f.sbomARM = f.repo.pushArtifact(exampleSBOM, f.images[1], `{"spdxVersion":"SPDX-2.3","name":"arm64"}`)
	return f
}

func (f *referrersFixture) oci(r, subject testImage, artifactType string) Referrer {
	return Referrer{Digest: r.Digest, MediaType: string(r.MediaType), Size: int64(len(r.Raw)), ArtifactType: artifactType, Subject: subject.Digest}
}

func (f *referrersFixture) cosign(r testImage, subject string) Referrer {
	return Referrer{Digest: r.Digest, MediaType: string(r.MediaType), Size: int64(len(r.Raw)), ArtifactType: cosignSimpleSigning,
		Subject: subject, Tag: cosignTag(subject, ".sig")}
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
			f := newReferrersFixture(t, src)
			e := testEngine()
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
			// Referrers are not counted in Size nor listed in Copied; attestations are both.
			if all.Size != without.Size || !slices.Equal(all.Copied, without.Copied) {
				t.Errorf("with referrers: size %d, copied %v; without: size %d, copied %v", all.Size, all.Copied, without.Size, without.Copied)
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
	src := newTestRegistry(t)
	repo := src.repo(t, "library/one")
	img := repo.image("linux/amd64", false)
	repo.pushManifest("v1", img.Raw, img.MediaType)
	sig := repo.pushCosignSignature(img.Digest, ".sig")
	att := repo.pushCosignSignature(img.Digest, ".att")
	p, err := testEngine().Plan(t.Context(), Spec{Source: repo.name(":v1"), Referrers: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []Referrer{{Digest: sig.Digest, MediaType: string(sig.MediaType), Size: int64(len(sig.Raw)), ArtifactType: cosignSimpleSigning, Subject: img.Digest, Tag: cosignTag(img.Digest, ".sig")},
		{Digest: att.Digest, MediaType: string(att.MediaType), Size: int64(len(att.Raw)), ArtifactType: cosignSimpleSigning, Subject: img.Digest, Tag: cosignTag(img.Digest, ".att")}}
	checkReferrers(t, p.Referrers, want)
}

// TestFindReferrersRequests checks what noticing new referrers costs: one request per subject
// for its OCI referrers (plus, without the referrers API, one per lookup made before the registry
// showed that it lacks it) and one HEAD per cosign tag.
func TestFindReferrersRequests(t *testing.T) {
	for _, api := range []bool{false, true} {
		t.Run(fmt.Sprintf("referrers API %t", api), func(t *testing.T) {
			src := newRegistryWithReferrers(t, api)
			f := newReferrersFixture(t, src)
			e := New(WithJobs(1)) // one at a time: the count is exact
			p, err := e.Plan(t.Context(), Spec{Source: f.ref(), Attestations: true, Referrers: true})
			if err != nil {
				t.Fatal(err)
			}
			src.requests()
			lookup, err := e.FindReferrers(t.Context(), f.ref(), p.ReferrerLookup.Subjects)
			if err != nil {
				t.Fatal(err)
			}
			if !lookup.Equal(p.ReferrerLookup) {
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
			f.repo.pushCosignSignature(f.images[2].Digest, ".att")
			lookup, err = e.FindReferrers(t.Context(), f.ref(), p.ReferrerLookup.Subjects)
			if err != nil {
				t.Fatal(err)
			}
			if lookup.Equal(p.ReferrerLookup) {
				t.Fatal("a new cosign attestation did not change the lookup")
			}
		})
	}
}

// TestPlanReferrersSkipsStaleFallbackEntries: a fallback tag is not updated when a referrer is
// deleted; the listed referrer whose manifest is gone is not copied (but is part of the lookup).
func TestPlanReferrersSkipsStaleFallbackEntries(t *testing.T) {
	src := newTestRegistry(t)
	f := newReferrersFixture(t, src)
	src.deleteRaw(t, f.repo.path, f.sbomARM.Digest)
	p, err := testEngine().Plan(t.Context(), Spec{Source: f.ref(), Attestations: true, Referrers: true, Platforms: []string{"linux/arm64"}})
	if err != nil {
		t.Fatal(err)
	}
	checkReferrers(t, p.Referrers, []Referrer{f.cosign(f.sigTop, f.digest)})
	if len(p.ReferrerLookup.Found) != 2 {
		t.Errorf("lookup found %v, want the stale entry and the signature", p.ReferrerLookup.Found)
	}
}

func TestKeepReferrers(t *testing.T) {
	src := newTestRegistry(t)
	f := newReferrersFixture(t, src)
	p, err := testEngine().Plan(t.Context(), Spec{Source: f.ref(), Attestations: true, Referrers: true})
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
	if err := p.KeepReferrers([]Referrer{gone}); err == nil || !strings.Contains(err.Error(), "plan again") {
		t.Fatalf("keeping a referrer the source does not have: %v", err)
	}
}

// indexOfPut returns the position of the first manifest PUT to a path ending in suffix.
func indexOfPut(reqs []recordedRequest, suffix string) int {
	return slices.IndexFunc(reqs, func(r recordedRequest) bool {
		return r.Method == http.MethodPut && strings.Contains(r.Path, "/manifests/") && strings.HasSuffix(r.Path, suffix)
	})
}

func listReferrers(t *testing.T, repo name.Repository, subject string) []string {
	t.Helper()
	idx, err := remote.Referrers(repo.Digest(subject))
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range im.Manifests {
		out = append(out, d.Digest.String())
	}
	slices.Sort(out)
	return out
}

func TestApplyReferrers(t *testing.T) {
	for _, c := range []struct{ srcAPI, dstAPI bool }{{false, false}, {true, true}, {false, true}, {true, false}} {
		t.Run(fmt.Sprintf("source API %t, target API %t", c.srcAPI, c.dstAPI), func(t *testing.T) {
			src, dst := newRegistryWithReferrers(t, c.srcAPI), newRegistryWithReferrers(t, c.dstAPI)
			f := newReferrersFixture(t, src)
			target := dst.repo(t, "mirror/app")
			// Someone else's referrer of the arm64 image is at the target already: it stays.
			theirs := target.pushArtifact("application/vnd.other.sbom", f.images[1], `{"theirs":true}`)
			e := testEngine()
			spec := Spec{Source: f.ref(), Target: target.name(""), Attestations: true, Referrers: true}
			p, err := e.Plan(t.Context(), spec)
			if err != nil {
				t.Fatal(err)
			}
			dst.requests()
			if _, err := e.Apply(t.Context(), p); err != nil {
				t.Fatal(err)
			}
			reqs := dst.requests()
			checkTargetHolds(t, dst, p)

			// Cosign tags: the same bytes under the same tag.
			for _, sig := range []struct {
				img     testImage
				subject string
			}{{f.sigTop, f.digest}, {f.sigAMD, f.images[0].Digest}} {
				got, _, status := dst.getRaw(t, target.path, cosignTag(sig.subject, ".sig"))
				if status != http.StatusOK || string(got) != string(sig.img.Raw) {
					t.Errorf("cosign tag of %s: HTTP %d, %s", sig.subject, status, got)
				}
			}
			// OCI referrers: found as clients find them, the others' entry kept.
			if got, want := listReferrers(t, target.repo, f.images[1].Digest), sortedOf(f.sbomARM.Digest, theirs.Digest); !slices.Equal(got, want) {
				t.Errorf("referrers of arm64 at the target: %v, want %v", got, want)
			}
			if got := listReferrers(t, target.repo, f.images[0].Digest); !slices.Equal(got, []string{f.bundleAMD.Digest}) {
				t.Errorf("referrers of amd64 at the target: %v, want the bundle %s", got, f.bundleAMD.Digest)
			}
			_, _, fallback := dst.getRaw(t, target.path, cosignTag(f.images[1].Digest, ""))
			if want := map[bool]int{false: http.StatusOK, true: http.StatusNotFound}[c.dstAPI]; fallback != want {
				t.Errorf("fallback tag at the target: HTTP %d, want %d", fallback, want)
			}
			// Everything a referrer references is there: the bundle's child and the blobs.
			for _, img := range []testImage{f.sigTop, f.sigAMD, f.sbomARM, f.bundleAMD, f.bundlePart} {
				if _, _, status := dst.getRaw(t, target.path, img.Digest); status != http.StatusOK {
					t.Errorf("%s: HTTP %d at the target", img.Digest, status)
				}
				for _, b := range img.Blobs {
					if status := headBlob(t, dst, target.path, b.Digest.String()); status != http.StatusOK {
						t.Errorf("blob %s of %s: HTTP %d at the target", b.Digest, img.Digest, status)
					}
				}
			}
			// Referrers come after their subjects.
			for _, pair := range [][2]string{
				{f.images[1].Digest, f.sbomARM.Digest}, {f.images[0].Digest, f.bundleAMD.Digest},
				{f.bundlePart.Digest, f.bundleAMD.Digest}, {"/" + f.tag, cosignTag(f.digest, ".sig")}, {f.digest, cosignTag(f.digest, ".sig")},
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
	f := newReferrersFixture(t, src)
	target := dst.repo(t, "mirror/app")
	e := testEngine()
	spec := Spec{Source: f.ref(), Target: target.name(""), Attestations: true, Referrers: true, Platforms: []string{"linux/arm64"}, IndexMode: ModeFilter}
	p, err := e.Plan(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	// Another writer replaces the fallback tag with an index that lists only its own referrer.
	target.pushManifest(cosignTag(f.images[1].Digest, ""), indexJSON(types.OCIImageIndex, imageEntry(f.atts[1])), types.OCIImageIndex)
	if _, err := e.Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	if got := listReferrers(t, target.repo, f.images[1].Digest); !slices.Contains(got, f.sbomARM.Digest) || !slices.Contains(got, f.atts[1].Digest) {
		t.Errorf("fallback tag lists %v, want the SBOM %s added to the other writer's entry", got, f.sbomARM.Digest)
	}
}

func TestCheckReferrers(t *testing.T) {
	src, dst := newTestRegistry(t), newTestRegistry(t)
	f := newReferrersFixture(t, src)
	target := dst.repo(t, "mirror/app")
	e := testEngine()
	p, err := e.Plan(t.Context(), Spec{Source: f.ref(), Target: target.name(""), Attestations: true, Referrers: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	want := Expected{Target: target.name(""), Tag: p.TargetTag, Digest: p.Digest, Referrers: p.Referrers}
	dst.requests()
	d, err := e.Check(t.Context(), want)
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
	dst.deleteRaw(t, target.path, cosignTag(f.images[0].Digest, ".sig"))
	dst.deleteRaw(t, target.path, f.sbomARM.Digest)
	d, err = e.Check(t.Context(), want)
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
	target.pushManifest(cosignTag(f.digest, ".sig"), f.images[2].Raw, f.images[2].MediaType)
	if d, err = e.Check(t.Context(), want); err != nil {
		t.Fatal(err)
	}
	if len(d.MissingReferrers) != 3 || d.MissingReferrers[2].Tag != cosignTag(f.digest, ".sig") {
		t.Fatalf("missing %+v, want the index signature as well", d.MissingReferrers)
	}
	// Apply repairs it.
	if _, err := e.Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	if d, err = e.Check(t.Context(), want); err != nil || d.Drifted(want) {
		t.Fatalf("after repair: %+v, %v", d, err)
	}
}
