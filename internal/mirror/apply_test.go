package mirror

import (
	"bytes"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// targetOf is the store the plan's target names.
func targetOf(t *testing.T, e *Engine, p *Plan) store.Reader {
	t.Helper()
	loc, err := e.Parse(p.Spec.Target, store.RoleTarget)
	if err != nil {
		t.Fatal(err)
	}
	return loc.Store
}

func TestApplyFullMirror(t *testing.T) {
	for _, docker := range []bool{false, true} {
		name := "oci"
		if docker {
			name = "docker"
		}
		t.Run(name, func(t *testing.T) {
			src, dst := newTestRegistry(t), newTestRegistry(t)
			f := newIndexFixture(t, src.writer(t, "library/app"), docker)
			e := testEngine(t, src, dst)
			p, err := e.Plan(t.Context(), Spec{Source: f.ref(), Target: dst.host + "/mirror/app", Attestations: true})
			if err != nil {
				t.Fatal(err)
			}
			st, err := e.Apply(t.Context(), p)
			if err != nil {
				t.Fatal(err)
			}
			// Byte for byte: the index the target serves is the source's.
			raw, ct, status := dst.getRaw(t, "mirror/app", f.digest)
			if status != http.StatusOK || string(raw) != string(f.index) || ct != string(f.mt) {
				t.Fatalf("target index: HTTP %d %s\n%s\nwant\n%s", status, ct, raw, f.index)
			}
			raw, ct, _ = dst.getRaw(t, "mirror/app", "v1")
			if string(raw) != string(f.index) || ct != string(f.mt) {
				t.Fatalf("target tag v1 serves %s %s", ct, raw)
			}
			for _, img := range append(slices.Clone(f.images), f.atts...) {
				raw, ct, _ := dst.getRaw(t, "mirror/app", img.Digest)
				if string(raw) != string(img.Raw) || ct != string(img.MediaType) {
					t.Fatalf("target %s: %s %s", img.Digest, ct, raw)
				}
			}
			checkTargetHolds(t, targetOf(t, e, p), p)
			if st.ManifestsPushed != len(p.Children)+1 || st.ManifestsSkipped != 0 || st.Blobs != len(p.blobs()) {
				t.Fatalf("stats %+v, %d manifests, %d blobs", st, len(p.Children)+1, len(p.blobs()))
			}
			var blobBytes int64
			for _, b := range p.blobs() {
				blobBytes += b.Size
			}
			if st.BlobBytes != blobBytes {
				t.Fatalf("BlobBytes = %d, want %d", st.BlobBytes, blobBytes)
			}
			if p.Ref() != dst.host+"/mirror/app:v1@"+f.digest {
				t.Fatalf("Ref = %s", p.Ref())
			}

			// Again: nothing to push, the tag is written again and read back.
			dst.requests()
			st, err = e.Apply(t.Context(), p)
			if err != nil {
				t.Fatal(err)
			}
			if st.ManifestsPushed != 0 || st.ManifestsSkipped != len(p.Children)+1 {
				t.Fatalf("re-apply stats %+v", st)
			}
			for _, r := range dst.requests() {
				if r.Method == http.MethodPut && strings.Contains(r.Path, "/manifests/sha256:") {
					t.Fatalf("re-apply pushed %s", r.Path)
				}
				if r.Method == http.MethodPatch || r.Method == http.MethodPost {
					t.Fatalf("re-apply uploaded a blob: %s %s", r.Method, r.Path)
				}
			}
		})
	}
}

// manifestPuts lists the references of the manifest PUTs, in order.
func manifestPuts(reqs []recordedRequest) []string {
	var out []string
	for _, r := range reqs {
		if r.Method == http.MethodPut && strings.Contains(r.Path, "/manifests/") {
			out = append(out, r.Path[strings.LastIndex(r.Path, "/")+1:])
		}
	}
	return out
}

// checkApplyOrder checks that blobs are written before any manifest, every manifest after the
// manifests it lists, and the tag last.
func checkApplyOrder(t *testing.T, reqs []recordedRequest, p *Plan) {
	t.Helper()
	puts := manifestPuts(reqs)
	if len(puts) != len(p.Children)+1+1 {
		t.Fatalf("manifest PUTs %v, want %d by digest and the tag", puts, len(p.Children)+1)
	}
	if puts[len(puts)-1] != p.Tag {
		t.Fatalf("last manifest PUT is %s, want the tag %s: %v", puts[len(puts)-1], p.Tag, puts)
	}
	if puts[len(puts)-2] != p.Digest {
		t.Fatalf("the top index is not pushed right before the tag: %v", puts)
	}
	pos := map[string]int{}
	for i, ref := range puts {
		if _, ok := pos[ref]; ok {
			t.Fatalf("%s pushed twice: %v", ref, puts)
		}
		pos[ref] = i
	}
	var visit func(n *node)
	visit = func(n *node) {
		for _, c := range n.entries {
			if !c.kept {
				continue
			}
			if pos[c.outDigest] >= pos[n.outDigest] {
				t.Fatalf("%s pushed before its entry %s: %v", n.outDigest, c.outDigest, puts)
			}
			visit(c)
		}
	}
	visit(p.root)
	firstManifest := -1
	lastBlob := -1
	for i, r := range reqs {
		switch {
		case r.Method == http.MethodPut && strings.Contains(r.Path, "/manifests/") && firstManifest < 0:
			firstManifest = i
		case strings.Contains(r.Path, "/blobs/"):
			lastBlob = i
		}
	}
	if lastBlob < 0 || lastBlob > firstManifest {
		t.Fatalf("blob writes (last at %d) (HEAD or upload) not all before the first manifest PUT (%d)", lastBlob, firstManifest)
	}
}

func TestApplyOrder(t *testing.T) {
	src, dst := newTestRegistry(t), newTestRegistry(t)
	f := newIndexFixture(t, src.writer(t, "library/app"), false)
	nf := newNestedFixture(src.writer(t, "src/nested"))
	cases := []struct {
		name string
		spec Spec
	}{
		{"index, preserve", Spec{Source: f.ref(), Target: dst.host + "/a/app:prod", Attestations: true}},
		{"index, filter", Spec{Source: f.ref(), Target: dst.host + "/b/app:prod", Attestations: true, Platforms: []string{"linux/arm64"}, IndexMode: ModeFilter}},
		{"nested, preserve", Spec{Source: nf.w.String() + (":v1"), Target: dst.host + "/c/app:prod", Attestations: true}},
		{"nested, filter", Spec{Source: nf.w.String() + (":v1"), Target: dst.host + "/d/app:prod", Attestations: true, Platforms: []string{"linux/amd64", "linux/s390x"}, IndexMode: ModeFilter}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := testEngine(t, src, dst)
			p, err := e.Plan(t.Context(), tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			dst.requests()
			if _, err := e.Apply(t.Context(), p); err != nil {
				t.Fatal(err)
			}
			checkApplyOrder(t, dst.requests(), p)
			checkTargetHolds(t, targetOf(t, e, p), p)
		})
	}
}

func TestApplyFilter(t *testing.T) {
	src, dst := newTestRegistry(t), newTestRegistry(t)
	nf := newNestedFixture(src.writer(t, "src/nested"))
	e := testEngine(t, src, dst)
	p, err := e.Plan(t.Context(), Spec{Source: nf.w.String() + (":v1"), Target: dst.host + "/mirror/nested", Platforms: []string{"linux/arm64"}, IndexMode: ModeFilter})
	if err != nil {
		t.Fatal(err)
	}
	if p.Digest == sha256Digest(nf.top) {
		t.Fatal("filter mode kept the digest")
	}
	if _, err := e.Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	raw, ct, _ := dst.getRaw(t, "mirror/nested", "v1")
	if sha256Digest(raw) != p.Digest || string(raw) != string(p.root.out) || ct != string(types.OCIImageIndex) {
		t.Fatalf("target tag serves %s %s", ct, raw)
	}
	checkTargetHolds(t, targetOf(t, e, p), p)
	// What is not selected did not travel.
	for _, d := range []string{nf.amd64.Digest, nf.s390x.Digest, nf.att.Digest, sha256Digest(nf.inner), sha256Digest(nf.top)} {
		if _, _, status := dst.getRaw(t, "mirror/nested", d); status != http.StatusNotFound {
			t.Fatalf("%s: HTTP %d at the target", d, status)
		}
	}
	// A plan of the same selection against the mirror gives the same digest: the filtered index
	// of a filtered index is itself.
	again, err := e.Plan(t.Context(), Spec{Source: dst.host + "/mirror/nested:v1", IndexMode: ModeFilter})
	if err != nil {
		t.Fatal(err)
	}
	if again.Digest != p.Digest {
		t.Fatalf("filtering the filtered index gives %s, want %s", again.Digest, p.Digest)
	}
}

func TestApplySparseRejected(t *testing.T) {
	src, dst := newTestRegistry(t), newTestRegistry(t)
	f := newIndexFixture(t, src.writer(t, "library/app"), false)
	e := testEngine(t, src, dst)
	p, err := e.Plan(t.Context(), Spec{Source: f.ref(), Target: dst.host + "/mirror/app", Platforms: []string{"linux/amd64"}})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Sparse {
		t.Fatal("not sparse")
	}
	_, err = e.Apply(t.Context(), p)
	var serr *SparseIndexRejectedError
	if !errors.As(err, &serr) {
		t.Fatalf("err = %v, want *SparseIndexRejectedError", err)
	}
	for _, s := range []string{"MANIFEST_UNKNOWN", "sparse index", dst.host + "/mirror/app"} {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("error does not contain %q: %v", s, err)
		}
	}
	if _, _, status := dst.getRaw(t, "mirror/app", "v1"); status != http.StatusNotFound {
		t.Fatalf("the tag was written after the index was rejected: HTTP %d", status)
	}
}

func TestApplyUntagged(t *testing.T) {
	src, dst := newTestRegistry(t), newTestRegistry(t)
	f := newIndexFixture(t, src.writer(t, "library/app"), false)
	e := testEngine(t, src, dst)
	p, err := e.Plan(t.Context(), Spec{Source: f.name("@" + f.digest), Target: dst.host + "/mirror/app", Attestations: true})
	if err != nil {
		t.Fatal(err)
	}
	if p.Tag != "" || p.Ref() != dst.host+"/mirror/app@"+f.digest {
		t.Fatalf("tag %q ref %s", p.Tag, p.Ref())
	}
	dst.requests()
	if _, err := e.Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	for _, ref := range manifestPuts(dst.requests()) {
		if !strings.HasPrefix(ref, "sha256:") {
			t.Fatalf("untagged mirror pushed reference %s", ref)
		}
	}
	checkTargetHolds(t, targetOf(t, e, p), p)
}

func TestApplySingleManifest(t *testing.T) {
	src, dst := newTestRegistry(t), newTestRegistry(t)
	repo := src.writer(t, "library/single")
	img := repo.HandImage("linux/amd64", true)
	repo.Raw("1.0", img.MediaType, img.Raw)
	e := testEngine(t, src, dst)
	p, err := e.Plan(t.Context(), Spec{Source: repo.String() + ":1.0", Target: dst.host + "/mirror/single:stable", Platforms: []string{"linux/amd64"}})
	if err != nil {
		t.Fatal(err)
	}
	dst.requests()
	st, err := e.Apply(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if st.ManifestsPushed != 1 || st.Blobs != 2 {
		t.Fatalf("stats %+v", st)
	}
	raw, ct, _ := dst.getRaw(t, "mirror/single", "stable")
	if string(raw) != string(img.Raw) || ct != string(types.DockerManifestSchema2) {
		t.Fatalf("target serves %s %s", ct, raw)
	}
	checkApplyOrder(t, dst.requests(), p)
}

// TestApplySameRegistry copies between repositories of one registry (blobs are mounted).
func TestApplySameRegistry(t *testing.T) {
	reg := newTestRegistry(t)
	f := newIndexFixture(t, reg.writer(t, "library/app"), false)
	e := testEngine(t, reg)
	p, err := e.Plan(t.Context(), Spec{Source: f.ref(), Target: reg.host + "/mirror/app", Attestations: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	checkTargetHolds(t, targetOf(t, e, p), p)
}

// TestApplyCopiesWhatWasPlanned: the source tag moves after planning; apply still copies the
// planned digest.
func TestApplyCopiesWhatWasPlanned(t *testing.T) {
	src, dst := newTestRegistry(t), newTestRegistry(t)
	f := newIndexFixture(t, src.writer(t, "library/app"), false)
	e := testEngine(t, src, dst)
	p, err := e.Plan(t.Context(), Spec{Source: f.ref(), Target: dst.host + "/mirror/app", Attestations: true})
	if err != nil {
		t.Fatal(err)
	}
	other := f.w.HandImage("linux/amd64", false)
	f.w.Raw(f.tag, other.MediaType, other.Raw)
	if _, err := e.Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	if raw, _, _ := dst.getRaw(t, "mirror/app", "v1"); string(raw) != string(f.index) {
		t.Fatalf("target holds %s", raw)
	}
}

func TestApplyErrors(t *testing.T) {
	src, dst := newTestRegistry(t), newTestRegistry(t)
	f := newIndexFixture(t, src.writer(t, "library/app"), false)
	e := testEngine(t, src, dst)
	p, err := e.Plan(t.Context(), Spec{Source: f.ref()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(t.Context(), p); err == nil {
		t.Fatal("Apply without a target succeeded")
	}

	p, err = e.Plan(t.Context(), Spec{Source: f.ref(), Target: dst.host + "/mirror/app", Attestations: true})
	if err != nil {
		t.Fatal(err)
	}
	// A registry that refuses manifest pushes: the error names the manifest, nothing is tagged.
	dst.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"errors":[{"code":"DENIED","message":"no pushes"}]}`))
			return true
		}
		return false
	})
	_, err = e.Apply(t.Context(), p)
	var serr *SparseIndexRejectedError
	if err == nil || errors.As(err, &serr) || !strings.Contains(err.Error(), "DENIED") {
		t.Fatalf("err = %v", err)
	}
	dst.setHook(nil)
	if _, _, status := dst.getRaw(t, "mirror/app", "v1"); status != http.StatusNotFound {
		t.Fatalf("tag written: HTTP %d", status)
	}

	// A source blob that went missing between plan and apply. The denied attempt above left the
	// blobs at dst (where the engine would mount them from), so an empty registry makes it read
	// the source again.
	dst = newTestRegistry(t)
	e = testEngine(t, src, dst)
	p, err = e.Plan(t.Context(), Spec{Source: f.ref(), Target: dst.host + "/mirror/app", Attestations: true})
	if err != nil {
		t.Fatal(err)
	}
	src.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "/blobs/"+f.shared.Digest.String()) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"errors":[{"code":"BLOB_UNKNOWN","message":"gone"}]}`))
			return true
		}
		return false
	})
	_, err = e.Apply(t.Context(), p)
	if err == nil || !strings.Contains(err.Error(), f.shared.Digest.String()) {
		t.Fatalf("err = %v", err)
	}
	if puts := manifestPuts(dst.requests()); slices.Contains(puts, p.Digest) || slices.Contains(puts, "v1") {
		t.Fatalf("manifests pushed although a blob failed: %v", puts)
	}
}

// TestApplyVerifiesBlobs: a source that serves other bytes for a blob fails the apply, and the
// tag is not written.
func TestApplyVerifiesBlobs(t *testing.T) {
	src, dst := newTestRegistry(t), newTestRegistry(t)
	f := newIndexFixture(t, src.writer(t, "library/app"), false)
	e := testEngine(t, src, dst)
	p, err := e.Plan(t.Context(), Spec{Source: f.ref(), Target: dst.host + "/mirror/app", Platforms: []string{"linux/arm/v7"}, IndexMode: ModeFilter})
	if err != nil {
		t.Fatal(err)
	}
	layer := f.images[2].Blobs[1]
	src.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+layer.Digest.String()) {
			w.Header().Set("Content-Length", strconv.FormatInt(layer.Size, 10))
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(bytes.Repeat([]byte("x"), int(layer.Size)))
			return true
		}
		return false
	})
	if _, err := e.Apply(t.Context(), p); err == nil {
		t.Fatal("a corrupted blob was copied")
	}
	if _, _, status := dst.getRaw(t, "mirror/app", "v1"); status != http.StatusNotFound {
		t.Fatalf("tag written: HTTP %d", status)
	}
	req, _ := http.NewRequest(http.MethodHead, dst.srv.URL+"/v2/mirror/app/blobs/"+layer.Digest.String(), nil)
	resp, err := dst.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Fatal("the target holds the blob although the source served other bytes")
	}
}
