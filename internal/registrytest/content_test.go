package registrytest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"runtime"
	"strconv"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestPushIndex pushes indexes of both families and reads them back byte for byte.
func TestPushIndex(t *testing.T) {
	t.Parallel()
	reg := Start(t)
	specs := []ImageSpec{
		{Platform: "linux/amd64", Layers: []int64{1000, 0}},
		{Platform: "linux/arm/v7", Layers: []int64{2000}},
		{Platform: "linux/arm64/v8", Layers: []int64{3000}, Seed: 1},
	}
	for _, tc := range []struct {
		name      string
		mediaType types.MediaType
		imageType types.MediaType
	}{
		{"oci", "", types.OCIManifestSchema1},
		{"docker", types.DockerManifestList, types.DockerManifestSchema2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ref := reg.Ref(tc.name + ":v1")
			desc := PushIndex(t, ref, IndexSpec{MediaType: tc.mediaType, Images: specs, Attestations: true})

			raw, mediaType := Fetch(t, ref)
			sum := sha256.Sum256(raw)
			if hex.EncodeToString(sum[:]) != desc.Digest.Hex || int64(len(raw)) != desc.Size || mediaType != desc.MediaType {
				t.Fatalf("fetched %d bytes (%s) of digest %x, pushed %+v", len(raw), mediaType, sum, desc)
			}
			var index v1.IndexManifest
			if err := json.Unmarshal(raw, &index); err != nil {
				t.Fatal(err)
			}
			if len(index.Manifests) != 2*len(specs) {
				t.Fatalf("%d entries, want %d", len(index.Manifests), 2*len(specs))
			}
			for i, spec := range specs {
				image, attestation := index.Manifests[i], index.Manifests[len(specs)+i]
				if image.MediaType != tc.imageType || image.Platform == nil || image.Platform.String() != spec.Platform {
					t.Errorf("entry %d: %s %v, want %s %s", i, image.MediaType, image.Platform, tc.imageType, spec.Platform)
				}
				if attestation.Platform.String() != "unknown/unknown" ||
					attestation.Annotations[AnnotationReferenceType] != AttestationManifest ||
					attestation.Annotations[AnnotationReferenceDigest] != image.Digest.String() {
					t.Errorf("attestation entry %d: %+v", i, attestation)
				}
				for _, d := range []v1.Descriptor{image, attestation} {
					if !Exists(t, reg.Ref(tc.name+"@"+d.Digest.String())) {
						t.Errorf("%s is missing", d.Digest)
					}
				}
			}
		})
	}
}

// TestPushRawOddJSON pushes index bytes with unusual formatting and an unknown field.
func TestPushRawOddJSON(t *testing.T) {
	t.Parallel()
	reg := Start(t)
	images := PushImages(t, reg.Ref("odd"), []ImageSpec{{Platform: "linux/amd64"}, {Platform: "linux/arm64"}}, "")
	var entries bytes.Buffer
	for i, d := range images {
		if i > 0 {
			entries.WriteString(" ,\n")
		}
		// Keys in an unusual order, with an unknown field.
		entries.WriteString(`{ "platform": {"os":"` + d.Platform.OS + `", "architecture":"` + d.Platform.Architecture + `"},` +
			`"size":` + strconv.FormatInt(d.Size, 10) + `, "digest":"` + d.Digest.String() + `", "x-extra": [1, 2],` +
			`"mediaType":"` + string(d.MediaType) + `"}`)
	}
	raw := []byte("{\n\t\"manifests\" : [\n" + entries.String() + "\n],\n\"schemaVersion\":2, \"mediaType\": \"application/vnd.oci.image.index.v1+json\"\n}\n\n")
	PushRaw(t, reg.Ref("odd:v1"), types.OCIImageIndex, raw)
	if got, _ := Fetch(t, reg.Ref("odd:v1")); !bytes.Equal(got, raw) {
		t.Errorf("fetched\n%s\nwant\n%s", got, raw)
	}
}

// TestNestedIndex pushes an index whose entries are an index and an image.
func TestNestedIndex(t *testing.T) {
	t.Parallel()
	reg := Start(t)
	inner := PushIndex(t, reg.Ref("nested"), IndexSpec{Images: []ImageSpec{{Platform: "linux/amd64", Layers: []int64{10}}}})
	image := PushImage(t, reg.Ref("nested"), ImageSpec{Platform: "linux/s390x", Layers: []int64{10}}, "")
	raw := MarshalIndex(t, types.OCIImageIndex, []v1.Descriptor{inner, image})
	outer := PushRaw(t, reg.Ref("nested:v1"), types.OCIImageIndex, raw)
	if got, _ := Fetch(t, reg.Ref("nested@"+outer.Digest.String())); !bytes.Equal(got, raw) {
		t.Errorf("fetched %s, want %s", got, raw)
	}
	if _, mediaType := Fetch(t, reg.Ref("nested@"+inner.Digest.String())); mediaType != types.OCIImageIndex {
		t.Errorf("inner index media type %s", mediaType)
	}
}

// TestDeterministicContent checks that content depends on the spec only.
func TestDeterministicContent(t *testing.T) {
	t.Parallel()
	reg := Start(t)
	spec := ImageSpec{Platform: "linux/amd64", Layers: []int64{5 << 20}, Seed: 42}
	a := PushImage(t, reg.Ref("a:v1"), spec, "")
	b := PushImage(t, reg.Ref("b:v1"), spec, "")
	spec.Seed++
	c := PushImage(t, reg.Ref("c:v1"), spec, "")
	if a.Digest != b.Digest || a.Digest == c.Digest {
		t.Errorf("digests %s, %s (same spec), %s (other seed)", a.Digest, b.Digest, c.Digest)
	}
	docker := PushImage(t, reg.Ref("a:docker"), spec, types.DockerManifestSchema2)
	if _, mediaType := Fetch(t, reg.Ref("a:docker")); mediaType != types.DockerManifestSchema2 || docker.MediaType != mediaType {
		t.Errorf("Docker image media type %s, descriptor %s", mediaType, docker.MediaType)
	}
}

// TestDelete deletes a manifest by digest.
func TestDelete(t *testing.T) {
	t.Parallel()
	reg := Start(t)
	desc := PushImage(t, reg.Ref("gone:v1"), ImageSpec{Platform: "linux/amd64"}, "")
	ref := reg.Ref("gone@" + desc.Digest.String())
	Delete(t, ref)
	if Exists(t, ref) || Exists(t, reg.Ref("gone:v1")) {
		t.Error("the manifest or its tag exists after Delete")
	}
}

// TestRandomLayerStreams checks that a large layer is generated and read in constant
// memory. It does not run in parallel, so that other tests do not allocate meanwhile.
func TestRandomLayerStreams(t *testing.T) {
	const size = 64 << 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	l, err := newRandomLayer("big", size, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := l.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	if _, n, err := v1.SHA256(rc); err != nil || n != size {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	runtime.ReadMemStats(&after)
	if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 1<<20 {
		t.Errorf("%d bytes allocated to hash a %d-byte layer twice", allocated, size)
	}
}
