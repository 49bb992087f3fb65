package mirror

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
	"github.com/zarf-dev/terraform-provider-zarf/internal/store/memory"
)

// The records in testdata/record-v0-*.json are private state as the first releases wrote it
// (before RecordVersion 1: no version, manifests with Go field names, every copied manifest in
// "copied" with the top last), captured from those releases for the content recordFixture
// writes (deterministic: the same digests every time).

// recordFixture writes the content of the captured records into the memory source: an index
// of three platforms with BuildKit attestations, an OCI referrer (an SBOM) and a cosign signature
// of the index. It returns the source reference.
func recordFixture(t *testing.T, env *memoryEnv) string {
	t.Helper()
	w := env.writer(t, "fixture/app")
	idx := w.Index("1.0", registrytest.IndexSpec{Images: []registrytest.ImageSpec{
		{Platform: "linux/amd64", Layers: []int64{1000, 500}, Seed: 7},
		{Platform: "linux/arm64", Layers: []int64{800}, Seed: 7},
		{Platform: "linux/arm/v7", Layers: []int64{600}, Seed: 7},
	}, Attestations: true})
	cfg := w.Blob([]byte("{}"), registrytest.OCIEmptyJSON)
	sig := w.Blob([]byte(`{"critical":{"type":"fixture signature"}}`), registrytest.CosignSimpleSigning)
	w.Raw("", types.OCIManifestSchema1, fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.example.sbom","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":%q,"size":2},"layers":[{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","digest":%q,"size":%d}],"subject":{"mediaType":%q,"digest":%q,"size":%d}}`,
		cfg.Digest, sig.Digest, sig.Size, idx.MediaType, idx.Digest, idx.Size))
	w.Raw(registrytest.CosignTag(idx.Digest.String(), ".sig"), types.OCIManifestSchema1, fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":%q,"size":2},"layers":[{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","digest":%q,"size":%d}]}`,
		cfg.Digest, sig.Digest, sig.Size))
	return w.String() + ":1.0"
}

// TestRecordV0 loads the records the first releases wrote, and re-plans from them: the source is
// resolved, nothing is read, and the result is the record a fresh plan computes.
func TestRecordV0(t *testing.T) {
	env := newMemoryEnv()
	source := recordFixture(t, env)
	for name, spec := range map[string]Spec{
		"preserve-referrers": {Target: "registry.example/mirror/app", Attestations: true, Referrers: true},
		"filter":             {Target: "registry.example/mirror/app:stable", Platforms: []string{"linux/amd64", "linux/arm64"}, IndexMode: ModeFilter, Attestations: true},
		"sparse":             {Target: "oci-layout://images", Platforms: []string{"linux/arm/v7"}},
	} {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", "record-v0-"+name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			loaded, err := LoadRecord(raw)
			if err != nil {
				t.Fatal(err)
			}
			spec.Source = source
			fresh, err := env.e.Plan(t.Context(), spec)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(loaded, fresh.Record) {
				t.Fatalf("the version 0 record loads as\n%+v\na fresh plan records\n%+v", loaded, fresh.Record)
			}
			env.src.Repository("fixture/app").ResetCalls()
			replanned, inspected, err := env.e.Replan(t.Context(), spec, &loaded)
			if err != nil || inspected || !reflect.DeepEqual(replanned, loaded) {
				t.Fatalf("re-planned from the record: inspected %t, %v\n%+v\nwant\n%+v", inspected, err, replanned, loaded)
			}
			src := env.src.Repository("fixture/app")
			if src.Calls(memory.OpManifest) != 0 || src.Calls(memory.OpBlob) != 0 {
				t.Fatalf("re-planning from the record read the source: %d manifests, %d blobs", src.Calls(memory.OpManifest), src.Calls(memory.OpBlob))
			}
			// The current format: versioned, JSON field names, and read back the same.
			v1raw, err := loaded.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(v1raw), `{"version":1,`) || strings.Contains(string(v1raw), `"MediaType"`) {
				t.Fatalf("Marshal wrote %s", v1raw)
			}
			if again, err := LoadRecord(v1raw); err != nil || !reflect.DeepEqual(again, loaded) {
				t.Fatalf("the version 1 record reads back as %+v, %v", again, err)
			}
		})
	}
}

func TestLoadRecordRefusesWhatItCannotRead(t *testing.T) {
	for _, raw := range []string{``, `[]`, `{"version":2,"digest":"sha256:x"}`, `{"version":1}`, `{"source_digest":"sha256:a"}`} {
		if _, err := LoadRecord([]byte(raw)); err == nil {
			t.Errorf("LoadRecord(%s) succeeded", raw)
		}
	}
}

func TestRecordRefs(t *testing.T) {
	for _, c := range []struct {
		rec     Record
		id, ref string
	}{
		{Record{Repository: "r.example/a", Tag: "1.0", Digest: digestA}, "r.example/a@" + digestA, "r.example/a:1.0@" + digestA},
		{Record{Repository: "r.example/a", Digest: digestA}, "r.example/a@" + digestA, "r.example/a@" + digestA},
		{Record{Repository: "oci-layout://images", Tag: "1.0", Digest: digestA, Traits: store.Traits{RefOmitsName: true}},
			"oci-layout://images@" + digestA, "oci-layout://images@" + digestA},
	} {
		if c.rec.ID() != c.id || c.rec.Ref() != c.ref {
			t.Errorf("%+v: ID %s, Ref %s; want %s, %s", c.rec, c.rec.ID(), c.rec.Ref(), c.id, c.ref)
		}
	}
}
