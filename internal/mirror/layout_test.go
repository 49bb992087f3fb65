package mirror

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
	"github.com/zarf-dev/terraform-provider-zarf/internal/store/layout"
)

// checkLayout checks the structure of a layout: oci-layout file, index.json, and every blob
// that an entry reaches present with the digest of its name.
func checkLayoutStructure(t *testing.T, dir string) []v1.Descriptor {
	t.Helper()
	if raw, err := os.ReadFile(filepath.Join(dir, "oci-layout")); err != nil || !strings.Contains(string(raw), `"imageLayoutVersion"`) {
		t.Fatalf("oci-layout: %v %s", err, raw)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	var visit func(d v1.Descriptor, optional bool)
	visit = func(d v1.Descriptor, optional bool) {
		b, err := os.ReadFile(layoutBlob(dir, d.Digest.String()))
		if optional && errors.Is(err, os.ErrNotExist) {
			return // a manifest a sparse index lists
		}
		if err != nil {
			t.Fatalf("blob %s: %v", d.Digest, err)
		}
		if sha256Digest(b) != d.Digest.String() || int64(len(b)) != d.Size {
			t.Fatalf("blob %s has digest %s and %d bytes, want %d", d.Digest, sha256Digest(b), len(b), d.Size)
		}
		var m struct {
			Manifests []v1.Descriptor
			Config    *v1.Descriptor
			Layers    []v1.Descriptor
		}
		if d.MediaType.IsIndex() || d.MediaType.IsImage() {
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range m.Manifests {
			visit(c, true)
		}
		if m.Config != nil {
			visit(*m.Config, false)
		}
		for _, c := range m.Layers {
			visit(c, false)
		}
	}
	for _, d := range idx.Manifests {
		visit(d, false)
	}
	return idx.Manifests
}

// layoutBlob is the path of a blob of the layout dir.
func layoutBlob(dir, digest string) string {
	return filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(digest, "sha256:"))
}

// hasLayoutBlob reports whether the layout dir holds the blob.
func hasLayoutBlob(dir, digest string) bool {
	_, err := os.Stat(layoutBlob(dir, digest))
	return err == nil
}

// editLayoutIndex edits the entries of the layout's index.json, as another tool would.
func editLayoutIndex(t *testing.T, dir string, edit func([]v1.Descriptor) []v1.Descriptor) {
	t.Helper()
	path := filepath.Join(dir, "index.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	idx.Manifests = edit(idx.Manifests)
	if raw, err = json.Marshal(idx); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLayoutRoundTrip(t *testing.T) {
	src, dst := newTestRegistry(t), newTestRegistry(t)
	f := newIndexFixture(t, src.writer(t, "library/app"), false)
	e := testEngine(t, src, dst)
	dir := filepath.Join(t.TempDir(), "pkg", "images")
	lay := layout.Prefix + dir

	// registry → layout (created), every platform
	p, err := e.Plan(t.Context(), Spec{Source: f.ref(), Target: lay, Attestations: true})
	if err != nil {
		t.Fatal(err)
	}
	if p.Ref() != lay+"@"+f.digest || p.ID() != p.Ref() || p.Tag != "v1" {
		t.Fatalf("ref %s id %s tag %s", p.Ref(), p.ID(), p.Tag)
	}
	st, err := e.Apply(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if st.ManifestsPushed != len(p.Children)+1 || st.BlobsUploaded != len(p.blobs()) {
		t.Fatalf("stats %+v", st)
	}
	entries := checkLayoutStructure(t, dir)
	if len(entries) != 1 || entries[0].Digest.String() != f.digest || entries[0].Annotations[store.AnnotationRefName] != "v1" ||
		entries[0].Annotations[store.AnnotationBaseName] != f.ref() || entries[0].MediaType != f.mt {
		t.Fatalf("entries %+v", entries)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(f.digest, "sha256:")))
	if string(raw) != string(f.index) {
		t.Fatal("the index blob is not the source's bytes")
	}
	// again: nothing written
	if st, err = e.Apply(t.Context(), p); err != nil || st.BlobsUploaded != 0 || st.ManifestsPushed != 0 {
		t.Fatalf("re-apply %+v %v", st, err)
	}

	// layout → registry, by ref name, by original reference and by digest
	for i, source := range []string{lay + ":v1", lay + ":" + f.ref(), lay + "@" + f.digest} {
		target := dst.host + fmt.Sprintf("/final/app%d:v1", i)
		p2, err := e.Plan(t.Context(), Spec{Source: source, Target: target, Attestations: true})
		if err != nil {
			t.Fatalf("%s: %v", source, err)
		}
		if _, err := e.Apply(t.Context(), p2); err != nil {
			t.Fatalf("%s: %v", source, err)
		}
		if p2.Digest != f.digest {
			t.Fatalf("%s: digest %s", source, p2.Digest)
		}
		checkTargetHolds(t, targetOf(t, e, p2), p2)
	}

	// a missing entry lists what is there
	_, err = e.Plan(t.Context(), Spec{Source: lay + ":v2", Target: dst.host + "/x"})
	if err == nil || !strings.Contains(err.Error(), `ref "v1"`) || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing entry: %v", err)
	}

	// drift: the ref moved, a manifest is gone, the entry is gone
	want := Record{Tag: "v1", Digest: f.digest, Children: []Manifest{{Digest: f.images[0].Digest}}}
	if d, err := e.Check(t.Context(), lay, want); err != nil || d.Drifted(want) {
		t.Fatalf("no drift expected: %+v %v", d, err)
	}
	os.Remove(filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(f.images[0].Digest, "sha256:")))
	if d, err := e.Check(t.Context(), lay, want); err != nil || len(d.MissingManifests) != 1 {
		t.Fatalf("missing manifest: %+v %v", d, err)
	}
	editLayoutIndex(t, dir, func(es []v1.Descriptor) []v1.Descriptor {
		es[0].Digest, _ = v1.NewHash(f.images[1].Digest)
		return es
	})
	if d, err := e.Check(t.Context(), lay, want); err != nil || d.Current != f.images[1].Digest || d.IndexMissing {
		t.Fatalf("moved ref: %+v %v", d, err)
	}
	if _, err := e.Apply(t.Context(), p); err != nil { // repair
		t.Fatal(err)
	}
	if d, err := e.Check(t.Context(), lay, want); err != nil || d.Drifted(want) {
		t.Fatalf("after repair: %+v %v", d, err)
	}
	editLayoutIndex(t, dir, func([]v1.Descriptor) []v1.Descriptor { return nil })
	if d, err := e.Check(t.Context(), lay, want); err != nil || !d.Gone || d.IndexMissing {
		t.Fatalf("entry gone: %+v %v", d, err)
	}
}

func TestLayoutSparseFilterAndSharedDelete(t *testing.T) {
	src := newTestRegistry(t)
	f := newIndexFixture(t, src.writer(t, "library/app"), false)
	e := testEngine(t, src)
	dir := t.TempDir()
	lay := layout.Prefix + dir

	sparse, err := e.Plan(t.Context(), Spec{Source: f.ref(), Target: lay + ":sparse", Platforms: []string{"linux/amd64"}})
	if err != nil {
		t.Fatal(err)
	}
	filtered, err := e.Plan(t.Context(), Spec{Source: f.ref(), Target: lay + ":arm", Platforms: []string{"linux/arm64"}, IndexMode: ModeFilter})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*Plan{sparse, filtered} {
		if _, err := e.Apply(t.Context(), p); err != nil {
			t.Fatal(err)
		}
	}
	entries := checkLayoutStructure(t, dir)
	if len(entries) != 2 || entries[0].Digest.String() != f.digest || entries[1].Digest.String() != filtered.Digest {
		t.Fatalf("entries %+v", entries)
	}
	// the shared layer of amd64 and arm64 stays after the sparse mirror is destroyed
	if err := e.Delete(t.Context(), lay+":sparse", sparse.Record); err != nil {
		t.Fatal(err)
	}
	entries = checkLayoutStructure(t, dir)
	if len(entries) != 1 || entries[0].Annotations[store.AnnotationRefName] != "arm" {
		t.Fatalf("entries after delete %+v", entries)
	}
	if !hasLayoutBlob(dir, f.shared.Digest.String()) || hasLayoutBlob(dir, f.images[0].Digest) || hasLayoutBlob(dir, f.digest) {
		t.Fatal("delete removed a shared blob or kept one nobody uses")
	}
	if err := e.Delete(t.Context(), lay+":arm", filtered.Record); err != nil {
		t.Fatal(err)
	}
	files, _ := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	if len(files) != 0 || len(checkLayoutStructure(t, dir)) != 0 {
		t.Fatalf("%d blobs left in an empty layout", len(files))
	}
}

// TestLayoutConcurrentMirrors applies many mirrors into one layout at once: none of the
// index.json updates is lost.
func TestLayoutConcurrentMirrors(t *testing.T) {
	src := newTestRegistry(t)
	f := newIndexFixture(t, src.writer(t, "library/app"), false)
	dir := t.TempDir()
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := testEngine(t, src) // separate engines: as separate provider processes would
			mode := ModePreserve
			if i%2 == 1 {
				mode = ModeFilter
			}
			p, err := e.Plan(t.Context(), Spec{Source: f.ref(), Target: fmt.Sprintf("%s%s:ref-%d", layout.Prefix, dir, i),
				Platforms: []string{[]string{"linux/amd64", "linux/arm64", "linux/arm/v7"}[i%3]}, IndexMode: mode})
			if err == nil {
				_, err = e.Apply(t.Context(), p)
			}
			if err == nil && i%4 == 3 {
				err = e.Delete(t.Context(), layout.Prefix+dir, p.Record)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	entries := checkLayoutStructure(t, dir)
	refs := map[string]bool{}
	for _, d := range entries {
		refs[d.Annotations[store.AnnotationRefName]] = true
	}
	for i := range n {
		if refs[fmt.Sprintf("ref-%d", i)] == (i%4 == 3) {
			t.Errorf("ref-%d: present = %v", i, i%4 != 3)
		}
	}
	if len(entries) != n-n/4 {
		t.Fatalf("%d entries", len(entries))
	}
}

// TestLayoutRestoresAMissingLayer: a layer file gone from a layout target makes its image
// manifest count as missing (as a registry holds a manifest only with its blobs), so the check
// notices it and the next apply writes the layer again.
func TestLayoutRestoresAMissingLayer(t *testing.T) {
	env := newMemoryEnv()
	f := newIndexFixture(t, env.writer(t, "library/app"), false)
	dir := t.TempDir()
	target := layout.Prefix + dir
	p, err := env.e.Plan(t.Context(), Spec{Source: f.ref(), Target: target, Platforms: []string{"linux/arm/v7"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.e.Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	layer := f.images[2].Blobs[1]
	if err := os.Remove(layoutBlob(dir, layer.Digest.String())); err != nil {
		t.Fatal(err)
	}
	d, err := env.e.Check(t.Context(), target, p.Record)
	if err != nil || !slices.Equal(d.MissingManifests, []string{f.images[2].Digest}) {
		t.Fatalf("drift %+v, %v; want the image of the missing layer", d, err)
	}
	st, err := env.e.Apply(t.Context(), p)
	if err != nil || st.BlobsUploaded != 1 || !hasLayoutBlob(dir, layer.Digest.String()) {
		t.Fatalf("repair: %+v, %v", st, err)
	}
}
