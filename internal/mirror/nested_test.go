package mirror

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// nestedFixture: top index = [inner index, s390x image]; inner index = [amd64, arm64, attestation
// of amd64].
type nestedFixture struct {
	w                   *registrytest.Writer
	amd64, arm64, s390x testImage
	att                 testImage
	inner, top          []byte
}

func newNestedFixture(w *registrytest.Writer) *nestedFixture {
	f := &nestedFixture{w: w}
	f.amd64 = w.HandImage("linux/amd64", false)
	f.arm64 = w.HandImage("linux/arm64", false)
	f.s390x = w.HandImage("linux/s390x", false)
	f.att = w.HandAttestation(f.amd64)
	f.inner = registrytest.HandIndex(types.OCIImageIndex, registrytest.ImageEntry(f.amd64), registrytest.ImageEntry(f.arm64),
		registrytest.AttestationEntry(f.att, f.amd64))
	w.Raw("", types.OCIImageIndex, f.inner)
	f.top = registrytest.HandIndex(types.OCIImageIndex, registrytest.IndexEntry(f.inner, types.OCIImageIndex), registrytest.ImageEntry(f.s390x))
	w.Raw("v1", types.OCIImageIndex, f.top)
	return f
}

func TestPlanNestedIndex(t *testing.T) {
	env := newMemoryEnv()
	f := newNestedFixture(env.writer(t, "library/nested"))
	e := env.e
	src := f.w.String() + ":v1"

	t.Run("preserve all", func(t *testing.T) {
		p, err := e.Plan(t.Context(), Spec{Source: src, Attestations: true})
		if err != nil {
			t.Fatal(err)
		}
		if p.Digest != sha256Digest(f.top) || p.Sparse {
			t.Fatalf("digest %s sparse %v", p.Digest, p.Sparse)
		}
		if !slices.Equal(p.Platforms, []string{"linux/amd64", "linux/arm64", "linux/s390x"}) {
			t.Fatalf("Platforms = %v", p.Platforms)
		}
		if !slices.Equal(p.Manifests, wantManifests(f.amd64, f.arm64, f.s390x)) {
			t.Fatalf("Manifests = %+v", p.Manifests)
		}
		want := []string{f.amd64.Digest, f.arm64.Digest, f.att.Digest, sha256Digest(f.inner), f.s390x.Digest, p.Digest}
		if got := copiedDigests(p); !sameElements(got, want) || got[len(got)-1] != p.Digest || slices.Index(got, sha256Digest(f.inner)) < slices.Index(got, f.arm64.Digest) {
			t.Fatalf("Copied = %v", got)
		}
		if want := expectedSize([][]byte{f.top, f.inner}, f.amd64, f.arm64, f.s390x, f.att); p.Size != want {
			t.Fatalf("Size = %d, want %d", p.Size, want)
		}
	})
	t.Run("preserve leaf selection", func(t *testing.T) {
		p, err := e.Plan(t.Context(), Spec{Source: src, Platforms: []string{"linux/arm64/v8"}})
		if err != nil {
			t.Fatal(err)
		}
		if !p.Sparse || p.Digest != sha256Digest(f.top) {
			t.Fatalf("digest %s sparse %v", p.Digest, p.Sparse)
		}
		if got := copiedDigests(p); !slices.Equal(got, []string{f.arm64.Digest, sha256Digest(f.inner), p.Digest}) {
			t.Fatalf("Copied = %v", got)
		}
		if !slices.Equal(p.Manifests, wantManifests(f.arm64)) {
			t.Fatalf("Manifests = %+v", p.Manifests)
		}
	})
	t.Run("filter rewrites the nested entry", func(t *testing.T) {
		p, err := e.Plan(t.Context(), Spec{Source: src, Platforms: []string{"linux/amd64"}, Attestations: true, IndexMode: ModeFilter})
		if err != nil {
			t.Fatal(err)
		}
		innerNode := p.root.entries[0]
		newInner := innerNode.out
		if innerNode.outDigest == sha256Digest(f.inner) {
			t.Fatal("the nested index was not filtered")
		}
		checkFilteredIndex(t, f.inner, newInner, []int{0, 2})
		// The top lists the new inner index by its new digest and size, every other field kept.
		var top v1.IndexManifest
		if err := json.Unmarshal(p.root.out, &top); err != nil {
			t.Fatal(err)
		}
		if len(top.Manifests) != 1 || top.Manifests[0].Digest.String() != sha256Digest(newInner) || top.Manifests[0].Size != int64(len(newInner)) {
			t.Fatalf("top index %s", p.root.out)
		}
		if !bytes.Contains(p.root.out, []byte(`"x-unknown-entry":"kept-0"`)) || bytes.Contains(p.root.out, []byte(f.s390x.Digest)) {
			t.Fatalf("top index %s", p.root.out)
		}
		if got := copiedDigests(p); !slices.Equal(got, []string{f.amd64.Digest, f.att.Digest, sha256Digest(newInner), p.Digest}) {
			t.Fatalf("Copied = %v", got)
		}
		if want := expectedSize([][]byte{p.root.out, newInner}, f.amd64, f.att); p.Size != want {
			t.Fatalf("Size = %d, want %d", p.Size, want)
		}
	})
	t.Run("filter drops a nested index with nothing selected", func(t *testing.T) {
		p, err := e.Plan(t.Context(), Spec{Source: src, Platforms: []string{"linux/s390x"}, IndexMode: ModeFilter})
		if err != nil {
			t.Fatal(err)
		}
		checkFilteredIndex(t, f.top, p.root.out, []int{1})
		if got := copiedDigests(p); !slices.Equal(got, []string{f.s390x.Digest, p.Digest}) {
			t.Fatalf("Copied = %v", got)
		}
	})
	t.Run("unknown platform lists the leaves", func(t *testing.T) {
		_, err := e.Plan(t.Context(), Spec{Source: src, Platforms: []string{"linux/riscv64"}})
		if err == nil || !strings.Contains(err.Error(), "linux/amd64, linux/arm64, linux/s390x") {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestPlanNestingDepth builds chains of indexes: MaxNestingDepth indexes are walked, one more
// is refused.
func TestPlanNestingDepth(t *testing.T) {
	env := newMemoryEnv()
	repo := env.writer(t, "library/deep")
	img := repo.HandImage("linux/amd64", false)
	raw := registrytest.HandIndex(types.OCIImageIndex, registrytest.ImageEntry(img))
	repo.Raw("depth1", types.OCIImageIndex, raw)
	for depth := 2; depth <= MaxNestingDepth+1; depth++ {
		raw = registrytest.HandIndex(types.OCIImageIndex, registrytest.IndexEntry(raw, types.OCIImageIndex))
		repo.Raw(fmt.Sprintf("depth%d", depth), types.OCIImageIndex, raw)
	}
	e := env.e
	p, err := e.Plan(t.Context(), Spec{Source: repo.String() + fmt.Sprintf(":depth%d", MaxNestingDepth), Platforms: []string{"linux/amd64"}, IndexMode: ModeFilter})
	if err != nil {
		t.Fatalf("%d nested indexes: %v", MaxNestingDepth, err)
	}
	if len(p.Children) != MaxNestingDepth || !slices.Equal(p.Manifests, wantManifests(img)) {
		t.Fatalf("Children = %v", p.Children)
	}
	_, err = e.Plan(t.Context(), Spec{Source: repo.String() + fmt.Sprintf(":depth%d", MaxNestingDepth+1)})
	if err == nil || !strings.Contains(err.Error(), "nested deeper") {
		t.Fatalf("%d nested indexes: err = %v", MaxNestingDepth+1, err)
	}
}

// putAt stores bytes under an arbitrary reference: the in-process registry does not check that a
// digest reference matches the bytes, which lets tests build what a broken or hostile registry
// serves.
func putAt(t *testing.T, reg *testRegistry, repo, reference string, raw []byte, mt types.MediaType) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, reg.srv.URL+"/v2/"+repo+"/manifests/"+reference, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", string(mt))
	resp, err := reg.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT %s: HTTP %d", reference, resp.StatusCode)
	}
}

func TestWalkRejectsBrokenGraphs(t *testing.T) {
	reg := newTestRegistry(t)
	repo := reg.writer(t, "src/broken")
	img := repo.HandImage("linux/amd64", false)
	e := testEngine(t, reg)
	src, err := e.Parse(repo.String(), store.RoleTarget)
	if err != nil {
		t.Fatal(err)
	}
	fake := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("c", 64)}

	walkRoot := func(t *testing.T, raw []byte) error {
		t.Helper()
		root := &node{desc: v1.Descriptor{Digest: fake, MediaType: types.OCIImageIndex}, raw: raw, isIndex: true}
		sel, err := newSelector(Spec{})
		if err != nil {
			t.Fatal(err)
		}
		return e.walk(t.Context(), src.Store, root, sel, 0, nil)
	}

	t.Run("self loop", func(t *testing.T) {
		raw := registrytest.HandIndex(types.OCIImageIndex, registrytest.Entry{MediaType: types.OCIImageIndex, Digest: fake.String(), Size: 10})
		if err := walkRoot(t, raw); err == nil || !strings.Contains(err.Error(), "loop") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("loop through a child", func(t *testing.T) {
		// The child lists the root's digest; the registry needs something at that digest.
		putAt(t, reg, "src/broken", fake.String(), img.Raw, img.MediaType)
		child := registrytest.HandIndex(types.OCIImageIndex, registrytest.Entry{MediaType: types.OCIImageIndex, Digest: fake.String(), Size: 10})
		repo.Raw("", types.OCIImageIndex, child)
		raw := registrytest.HandIndex(types.OCIImageIndex, registrytest.IndexEntry(child, types.OCIImageIndex))
		if err := walkRoot(t, raw); err == nil || !strings.Contains(err.Error(), "loop") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("too many entries", func(t *testing.T) {
		entries := make([]registrytest.Entry, MaxIndexEntries+1)
		for i := range entries {
			entries[i] = registrytest.ImageEntry(img)
		}
		if err := walkRoot(t, registrytest.HandIndex(types.OCIImageIndex, entries...)); err == nil || !strings.Contains(err.Error(), "entries") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("non-sha256 entry", func(t *testing.T) {
		raw := []byte(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha512:` + strings.Repeat("a", 128) + `","size":1,"platform":{"os":"linux","architecture":"amd64"}}]}`)
		if err := walkRoot(t, raw); err == nil {
			t.Fatal("an index listing a sha512 digest was accepted")
		}
	})
	t.Run("not JSON", func(t *testing.T) {
		if err := walkRoot(t, []byte("not json")); err == nil || !strings.Contains(err.Error(), "parse") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("registry serves other bytes", func(t *testing.T) {
		// The index lists a digest under which the registry serves different bytes.
		wrong := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("d", 64)}
		putAt(t, reg, "src/broken", wrong.String(), img.Raw, img.MediaType)
		raw := registrytest.HandIndex(types.OCIImageIndex, registrytest.Entry{MediaType: img.MediaType, Digest: wrong.String(), Size: len(img.Raw), Platform: "linux/amd64"})
		repo.Raw("wrong", types.OCIImageIndex, raw)
		_, err := e.Plan(t.Context(), Spec{Source: repo.String() + ":wrong"})
		if err == nil || !strings.Contains(err.Error(), wrong.String()) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("missing child", func(t *testing.T) {
		missing := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("e", 64)}
		raw := registrytest.HandIndex(types.OCIImageIndex, registrytest.Entry{MediaType: img.MediaType, Digest: missing.String(), Size: 10, Platform: "linux/amd64"})
		if err := walkRoot(t, raw); err == nil || !strings.Contains(err.Error(), missing.String()) {
			t.Fatalf("err = %v", err)
		}
		// Not selected: not read, so no error.
		sel, _ := newSelector(Spec{Platforms: []string{"linux/arm64"}})
		raw = registrytest.HandIndex(types.OCIImageIndex, registrytest.Entry{MediaType: img.MediaType, Digest: missing.String(), Size: 10, Platform: "linux/amd64"},
			registrytest.ImageEntry(repo.HandImage("linux/arm64", false)))
		root := &node{desc: v1.Descriptor{Digest: fake}, raw: raw, isIndex: true}
		if err := e.walk(t.Context(), src.Store, root, sel, 0, nil); err != nil {
			t.Fatalf("unselected missing child: %v", err)
		}
	})
}

// TestPlanFilterAmbiguousIndex: an index with "manifests" and "MANIFESTS" is one list to Go's
// decoder (the last one) and two to a key-by-key filter; filter mode must refuse it rather than
// list entries other than those it selected and copies.
func TestPlanFilterAmbiguousIndex(t *testing.T) {
	env := newMemoryEnv()
	repo := env.writer(t, "library/ambiguous")
	amd64 := repo.HandImage("linux/amd64", false)
	arm64 := repo.HandImage("linux/arm64", false)
	list := func(img testImage) string {
		return fmt.Sprintf(`[{"mediaType":%q,"digest":%q,"size":%d,"platform":{"os":"linux","architecture":%q}}]`,
			img.MediaType, img.Digest, len(img.Raw), strings.Split(img.Platform, "/")[1])
	}
	raw := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":` + list(amd64) + `,"MANIFESTS":` + list(arm64) + `}`)
	repo.Raw("v1", types.OCIImageIndex, raw)
	e := env.e
	p, err := e.Plan(t.Context(), Spec{Source: repo.String() + ":v1"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Digest != sha256Digest(raw) || len(p.Manifests) != 1 {
		t.Fatalf("preserve: %+v", p.Manifests)
	}
	_, err = e.Plan(t.Context(), Spec{Source: repo.String() + ":v1", IndexMode: ModeFilter})
	if err == nil || !strings.Contains(err.Error(), "differ only in case") {
		t.Fatalf("filter: err = %v", err)
	}
}
