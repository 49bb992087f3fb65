package mirror

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

func digestsOf(imgs ...testImage) []string {
	var out []string
	for _, img := range imgs {
		out = append(out, img.Digest)
	}
	return out
}

func wantManifests(imgs ...testImage) []Manifest {
	var out []Manifest
	for _, img := range imgs {
		out = append(out, Manifest{Platform: img.Platform, Digest: img.Digest, MediaType: string(img.MediaType), Size: int64(len(img.Raw))})
	}
	return out
}

func TestPlanOCIIndex(t *testing.T) {
	env := newMemoryEnv()
	f := newIndexFixture(t, env.writer(t, "library/app"), false)
	amd64, arm64, armv7 := f.images[0], f.images[1], f.images[2]
	attAmd64, attArm64, attArmv7 := f.atts[0], f.atts[1], f.atts[2]
	allPlatforms := []string{"linux/amd64", "linux/arm64/v8", "linux/arm/v7"}

	cases := []struct {
		name         string
		spec         Spec
		sparse       bool
		manifests    []testImage
		copied       []testImage // below the top, in order
		filter       bool
		keptEntries  []int // filter mode: source entry indexes of the new index
		sizeOfImages []testImage
	}{
		{
			name:         "preserve all",
			spec:         Spec{Attestations: true},
			manifests:    []testImage{amd64, arm64, armv7},
			copied:       []testImage{amd64, arm64, armv7, attAmd64, attArm64, attArmv7},
			sizeOfImages: []testImage{amd64, arm64, armv7, attAmd64, attArm64, attArmv7},
		},
		{
			name:         "preserve all without attestations",
			spec:         Spec{Attestations: false},
			sparse:       true,
			manifests:    []testImage{amd64, arm64, armv7},
			copied:       []testImage{amd64, arm64, armv7},
			sizeOfImages: []testImage{amd64, arm64, armv7},
		},
		{
			name:         "preserve subset",
			spec:         Spec{Platforms: []string{"linux/arm/v7", "linux/amd64"}, Attestations: true},
			sparse:       true,
			manifests:    []testImage{amd64, armv7},
			copied:       []testImage{amd64, armv7, attAmd64, attArmv7},
			sizeOfImages: []testImage{amd64, armv7, attAmd64, attArmv7},
		},
		{
			name:         "preserve subset, arm64 without variant, no attestations",
			spec:         Spec{Platforms: []string{"linux/arm64"}},
			sparse:       true,
			manifests:    []testImage{arm64},
			copied:       []testImage{arm64},
			sizeOfImages: []testImage{arm64},
		},
		{
			name:         "preserve, selector without variant matches every arm variant",
			spec:         Spec{Platforms: []string{"linux/arm"}, Attestations: true},
			sparse:       true,
			manifests:    []testImage{armv7},
			copied:       []testImage{armv7, attArmv7},
			sizeOfImages: []testImage{armv7, attArmv7},
		},
		{
			name:         "filter subset",
			spec:         Spec{Platforms: []string{"linux/amd64", "linux/arm64/v8"}, Attestations: true, IndexMode: ModeFilter},
			filter:       true,
			manifests:    []testImage{amd64, arm64},
			copied:       []testImage{amd64, arm64, attAmd64, attArm64},
			keptEntries:  []int{0, 1, 3, 4},
			sizeOfImages: []testImage{amd64, arm64, attAmd64, attArm64},
		},
		{
			name:         "filter subset without attestations",
			spec:         Spec{Platforms: []string{"linux/arm/v7"}, IndexMode: ModeFilter},
			filter:       true,
			manifests:    []testImage{armv7},
			copied:       []testImage{armv7},
			keptEntries:  []int{2},
			sizeOfImages: []testImage{armv7},
		},
		{
			name:         "filter all",
			spec:         Spec{Attestations: true, IndexMode: ModeFilter},
			filter:       true,
			manifests:    []testImage{amd64, arm64, armv7},
			copied:       []testImage{amd64, arm64, armv7, attAmd64, attArm64, attArmv7},
			keptEntries:  []int{0, 1, 2, 3, 4, 5},
			sizeOfImages: []testImage{amd64, arm64, armv7, attAmd64, attArm64, attArmv7},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := env.e
			spec := tc.spec
			spec.Source = f.ref()
			p, err := e.Plan(t.Context(), spec)
			if err != nil {
				t.Fatal(err)
			}
			if p.SourceDigest != f.digest || p.SourceMediaType != string(types.OCIImageIndex) {
				t.Fatalf("source %s %s, want %s", p.SourceDigest, p.SourceMediaType, f.digest)
			}
			if p.Source != f.ref() {
				t.Fatalf("Source = %q, want %q", p.Source, f.ref())
			}
			if !slices.Equal(p.Platforms, allPlatforms) {
				t.Fatalf("Platforms = %v, want %v", p.Platforms, allPlatforms)
			}
			if p.Sparse != tc.sparse {
				t.Fatalf("Sparse = %v, want %v", p.Sparse, tc.sparse)
			}
			if !slices.Equal(p.Manifests, wantManifests(tc.manifests...)) {
				t.Fatalf("Manifests = %+v\nwant %+v", p.Manifests, wantManifests(tc.manifests...))
			}
			if p.MediaType != string(types.OCIImageIndex) {
				t.Fatalf("MediaType = %s", p.MediaType)
			}
			top := f.index
			if tc.filter {
				top = p.root.out
				if p.Digest == f.digest {
					t.Fatal("filter mode kept the source digest")
				}
				if p.Digest != sha256Digest(top) {
					t.Fatalf("Digest %s is not the digest of the new index bytes", p.Digest)
				}
				checkFilteredIndex(t, f.index, top, tc.keptEntries)
				again, err := env.engine().Plan(t.Context(), spec)
				if err != nil {
					t.Fatal(err)
				}
				if again.Digest != p.Digest || string(again.root.out) != string(top) {
					t.Fatalf("filter mode is not deterministic: %s, then %s", p.Digest, again.Digest)
				}
			} else if p.Digest != f.digest || string(p.root.out) != string(f.index) {
				t.Fatalf("preserve mode: Digest = %s, want %s", p.Digest, f.digest)
			}
			wantCopied := append(digestsOf(tc.copied...), p.Digest)
			if got := copiedDigests(p); !sameElements(got, wantCopied) || got[len(got)-1] != p.Digest {
				t.Fatalf("Copied = %v\nwant %v (top last)", got, wantCopied)
			}
			checkCopied(t, p, tc.copied, top)
			if want := expectedSize([][]byte{top}, tc.sizeOfImages...); p.Size != want {
				t.Fatalf("Size = %d, want %d", p.Size, want)
			}
		})
	}
}

// copiedDigests are the digests of every copied manifest, the top last.
func copiedDigests(p *Plan) []string { return append(p.ChildDigests(), p.Digest) }

// checkCopied checks the media type, size and platform of every copied manifest.
func checkCopied(t *testing.T, p *Plan, imgs []testImage, top []byte) {
	t.Helper()
	want := map[string]Manifest{sha256Digest(top): {Digest: sha256Digest(top), MediaType: p.MediaType, Size: int64(len(top))}}
	for _, m := range wantManifests(imgs...) {
		want[m.Digest] = m
	}
	for _, m := range p.Children {
		if want[m.Digest] != m {
			t.Fatalf("Children lists %+v, want %+v", m, want[m.Digest])
		}
	}
}

func sameElements(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// checkFilteredIndex checks that the filtered index lists exactly the kept source entries, each
// with every field (unknown ones included) unchanged, and keeps the other fields of the index.
func checkFilteredIndex(t *testing.T, src, out []byte, kept []int) {
	t.Helper()
	var srcDoc, outDoc map[string]json.RawMessage
	if err := json.Unmarshal(src, &srcDoc); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, &outDoc); err != nil {
		t.Fatalf("filtered index does not parse: %v\n%s", err, out)
	}
	if len(outDoc) != len(srcDoc) {
		t.Fatalf("filtered index has fields %v, source %v", keys(outDoc), keys(srcDoc))
	}
	for k, v := range srcDoc {
		if k == "manifests" {
			continue
		}
		if !jsonEqual(t, v, outDoc[k]) {
			t.Fatalf("field %s: %s, source has %s", k, outDoc[k], v)
		}
	}
	var srcEntries, outEntries []json.RawMessage
	if err := json.Unmarshal(srcDoc["manifests"], &srcEntries); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(outDoc["manifests"], &outEntries); err != nil {
		t.Fatal(err)
	}
	if len(outEntries) != len(kept) {
		t.Fatalf("filtered index lists %d entries, want %d:\n%s", len(outEntries), len(kept), out)
	}
	for i, k := range kept {
		if !jsonEqual(t, srcEntries[k], outEntries[i]) {
			t.Fatalf("entry %d: %s\nsource entry %d: %s", i, outEntries[i], k, srcEntries[k])
		}
	}
	if (len(kept) > 0 && bytes.Contains(src, []byte(`"x-unknown-entry"`)) && !bytes.Contains(out, []byte(`"x-unknown-entry"`))) ||
		(bytes.Contains(src, []byte(`"x-unknown-top"`)) && !bytes.Contains(out, []byte(`"x-unknown-top"`))) {
		t.Fatalf("filtered index lost unknown fields:\n%s", out)
	}
	if _, err := v1.ParseIndexManifest(strings.NewReader(string(out))); err != nil {
		t.Fatalf("filtered index is not an index: %v", err)
	}
}

func keys(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

func TestPlanOCIIndexSharedLayerCountedOnce(t *testing.T) {
	env := newMemoryEnv()
	f := newIndexFixture(t, env.writer(t, "library/shared"), false)
	p, err := env.e.Plan(t.Context(), Spec{Source: f.ref(), Platforms: []string{"linux/amd64", "linux/arm64"}})
	if err != nil {
		t.Fatal(err)
	}
	// Independently: index + two manifests + two configs + two own layers + the shared layer once.
	amd64, arm64 := f.images[0], f.images[1]
	want := int64(len(f.index)) + int64(len(amd64.Raw)) + int64(len(arm64.Raw)) +
		amd64.Blobs[0].Size + amd64.Blobs[1].Size + arm64.Blobs[0].Size + arm64.Blobs[1].Size + f.shared.Size
	if p.Size != want {
		t.Fatalf("Size = %d, want %d (shared layer %d bytes counted once)", p.Size, want, f.shared.Size)
	}
	if amd64.Blobs[2].Digest != f.shared.Digest || arm64.Blobs[2].Digest != f.shared.Digest {
		t.Fatal("fixture: the images do not share the layer")
	}
	if got := len(p.blobs()); got != 5 {
		t.Fatalf("plan copies %d distinct blobs, want 5", got)
	}
	// Attestation configs are identical: all three share one config blob, counted once.
	all, err := env.e.Plan(t.Context(), Spec{Source: f.ref(), Attestations: true})
	if err != nil {
		t.Fatal(err)
	}
	if f.atts[0].Blobs[0].Digest != f.atts[2].Blobs[0].Digest {
		t.Fatal("fixture: attestation configs differ")
	}
	if want := expectedSize([][]byte{f.index}, append(f.images, f.atts...)...); all.Size != want {
		t.Fatalf("Size = %d, want %d", all.Size, want)
	}
}

func TestPlanErrors(t *testing.T) {
	env := newMemoryEnv()
	f := newIndexFixture(t, env.writer(t, "library/app"), false)
	e := env.e
	dst := env.dst.Prefix() + "mirror/app"

	t.Run("unknown platform", func(t *testing.T) {
		_, err := e.Plan(t.Context(), Spec{Source: f.ref(), Platforms: []string{"linux/amd64", "linux/s390x", "windows/amd64"}})
		var perr *UnknownPlatformError
		if !errors.As(err, &perr) {
			t.Fatalf("err = %v, want *UnknownPlatformError", err)
		}
		if !slices.Equal(perr.Requested, []string{"linux/s390x", "windows/amd64"}) {
			t.Fatalf("Requested = %v", perr.Requested)
		}
		if !slices.Equal(perr.Available, []string{"linux/amd64", "linux/arm/v7", "linux/arm64/v8"}) {
			t.Fatalf("Available = %v", perr.Available)
		}
		for _, s := range []string{"linux/s390x", "linux/amd64", "linux/arm/v7", "linux/arm64/v8", f.ref()} {
			if !strings.Contains(err.Error(), s) {
				t.Fatalf("error %q does not name %s", err, s)
			}
		}
	})
	t.Run("variant not listed", func(t *testing.T) {
		var perr *UnknownPlatformError
		if _, err := e.Plan(t.Context(), Spec{Source: f.ref(), Platforms: []string{"linux/arm/v6"}}); !errors.As(err, &perr) {
			t.Fatalf("err = %v, want *UnknownPlatformError", err)
		}
	})
	t.Run("attestation platform is not selectable", func(t *testing.T) {
		var perr *UnknownPlatformError
		if _, err := e.Plan(t.Context(), Spec{Source: f.ref(), Platforms: []string{"unknown/unknown"}}); !errors.As(err, &perr) {
			t.Fatalf("err = %v, want *UnknownPlatformError", err)
		}
	})
	t.Run("malformed platform", func(t *testing.T) {
		_, err := e.Plan(t.Context(), Spec{Source: f.ref(), Platforms: []string{"linux"}})
		var perr *UnknownPlatformError
		if err == nil || errors.As(err, &perr) || !strings.Contains(err.Error(), `"linux"`) {
			t.Fatalf("err = %v, want a malformed-platform error", err)
		}
	})
	t.Run("max bytes", func(t *testing.T) {
		p, err := e.Plan(t.Context(), Spec{Source: f.ref()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Plan(t.Context(), Spec{Source: f.ref(), MaxBytes: p.Size}); err != nil {
			t.Fatalf("MaxBytes equal to the size: %v", err)
		}
		_, err = e.Plan(t.Context(), Spec{Source: f.ref(), MaxBytes: p.Size - 1})
		var terr *TooLargeError
		if !errors.As(err, &terr) {
			t.Fatalf("err = %v, want *TooLargeError", err)
		}
		if terr.Size != p.Size || terr.MaxBytes != p.Size-1 {
			t.Fatalf("TooLargeError %+v", terr)
		}
		for _, n := range []int64{p.Size, p.Size - 1} {
			if !strings.Contains(err.Error(), strconv.FormatInt(n, 10)) {
				t.Fatalf("error %q does not show %d", err, n)
			}
		}
		// A platform selection that fits passes.
		small, err := e.Plan(t.Context(), Spec{Source: f.ref(), Platforms: []string{"linux/arm/v7"}, MaxBytes: p.Size - 1})
		if err != nil || small.Size >= p.Size {
			t.Fatalf("selection under max_bytes: %v", err)
		}
	})
	t.Run("target digest mismatch", func(t *testing.T) {
		target := dst + "@" + digestA
		_, err := e.Plan(t.Context(), Spec{Source: f.ref(), Target: target})
		var merr *TargetDigestMismatchError
		if !errors.As(err, &merr) {
			t.Fatalf("err = %v, want *TargetDigestMismatchError", err)
		}
		if merr.Want != digestA || merr.Digest != f.digest || !strings.Contains(err.Error(), f.digest) {
			t.Fatalf("%+v: %v", merr, err)
		}
		// In filter mode the pin must be the new digest.
		fp, err := e.Plan(t.Context(), Spec{Source: f.ref(), Platforms: []string{"linux/amd64"}, IndexMode: ModeFilter})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Plan(t.Context(), Spec{Source: f.ref(), Platforms: []string{"linux/amd64"}, IndexMode: ModeFilter, Target: dst + "@" + f.digest}); !errors.As(err, &merr) {
			t.Fatalf("filter mode pinned to the source digest: %v", err)
		}
		if _, err := e.Plan(t.Context(), Spec{Source: f.ref(), Platforms: []string{"linux/amd64"}, IndexMode: ModeFilter, Target: dst + "@" + fp.Digest}); err != nil {
			t.Fatalf("filter mode pinned to its digest: %v", err)
		}
	})
	t.Run("bad target", func(t *testing.T) {
		_, err := e.Plan(t.Context(), Spec{Source: f.ref(), Target: "https://registry.example/dst"})
		var rerr *ReferenceError
		if !errors.As(err, &rerr) || rerr.Role != store.RoleTarget {
			t.Fatalf("err = %v, want a target *ReferenceError", err)
		}
	})
	t.Run("source missing", func(t *testing.T) {
		_, err := e.Plan(t.Context(), Spec{Source: f.name(":nope")})
		if !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "nope") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestPlanTargets(t *testing.T) {
	env := newMemoryEnv()
	f := newIndexFixture(t, env.writer(t, "library/app"), false)
	e := env.e
	dst := env.dst.Prefix() + "mirror/app"
	cases := []struct {
		name, source, target string
		tag                  string
	}{
		{"tag from source", f.ref(), dst, "v1"},
		{"target tag", f.ref(), dst + ":prod", "prod"},
		{"target digest keeps source tag", f.ref(), dst + "@" + f.digest, "v1"},
		{"target tag and digest", f.ref(), dst + ":prod@" + f.digest, "prod"},
		{"digest-only source, tagless target", f.name("@" + f.digest), dst, ""},
		{"digest-only source, target digest", f.name("@" + f.digest), dst + "@" + f.digest, ""},
		{"digest-only source, target tag", f.name("@" + f.digest), dst + ":prod", "prod"},
		{"tag@digest source", f.name(":v1@" + f.digest), dst, "v1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := e.Plan(t.Context(), Spec{Source: tc.source, Target: tc.target})
			if err != nil {
				t.Fatal(err)
			}
			if p.Repository != dst || p.Tag != tc.tag {
				t.Fatalf("target %q %q", p.Repository, p.Tag)
			}
			if p.ID() != dst+"@"+f.digest {
				t.Fatalf("ID = %s", p.ID())
			}
			wantRef := dst + "@" + f.digest
			if tc.tag != "" {
				wantRef = dst + ":" + tc.tag + "@" + f.digest
			}
			if p.Ref() != wantRef {
				t.Fatalf("Ref = %s, want %s", p.Ref(), wantRef)
			}
		})
	}
}

// TestPlanDigestPins checks that a digest in the source (or Spec.SourceDigest) wins over the tag.
func TestPlanDigestPins(t *testing.T) {
	env := newMemoryEnv()
	f := newIndexFixture(t, env.writer(t, "library/app"), false)
	other := f.w.HandImage("linux/amd64", false)
	f.w.Raw("other", other.MediaType, other.Raw)
	e := env.e

	// The tag "other" points at the single image, the digest at the index: the digest wins.
	p, err := e.Plan(t.Context(), Spec{Source: f.name(":other@" + f.digest)})
	if err != nil {
		t.Fatal(err)
	}
	if p.SourceDigest != f.digest || p.Digest != f.digest {
		t.Fatalf("tag@digest resolved to %s, want %s", p.SourceDigest, f.digest)
	}
	// A tag that does not exist does not matter when a digest pins.
	if p, err = e.Plan(t.Context(), Spec{Source: f.name(":missing@" + f.digest)}); err != nil || p.SourceDigest != f.digest {
		t.Fatalf("tag@digest with a missing tag: %v", err)
	}
	// Spec.SourceDigest pins what apply copies, whatever the tag points at now.
	p, err = e.Plan(t.Context(), Spec{Source: f.name(":other"), SourceDigest: f.digest})
	if err != nil || p.SourceDigest != f.digest || len(p.Manifests) != 3 {
		t.Fatalf("SourceDigest: %v %+v", err, p)
	}
	// Without a pin the tag is followed.
	p, err = e.Plan(t.Context(), Spec{Source: f.name(":other")})
	if err != nil || p.SourceDigest != other.Digest {
		t.Fatalf("tag: %v", err)
	}
	if got, err := e.ResolveSource(t.Context(), f.ref()); err != nil || got != f.digest {
		t.Fatalf("ResolveSource = %s, %v", got, err)
	}
	if _, err := e.ResolveSource(t.Context(), f.name(":missing")); err == nil {
		t.Fatal("ResolveSource of a missing tag succeeded")
	}
}

func TestPlanDockerManifestList(t *testing.T) {
	env := newMemoryEnv()
	f := newIndexFixture(t, env.writer(t, "library/docker"), true)
	e := env.e

	p, err := e.Plan(t.Context(), Spec{Source: f.ref(), Attestations: true})
	if err != nil {
		t.Fatal(err)
	}
	if p.Digest != f.digest || p.SourceDigest != f.digest || p.Sparse {
		t.Fatalf("preserve all: digest %s sparse %v", p.Digest, p.Sparse)
	}
	if p.MediaType != string(types.DockerManifestList) || p.SourceMediaType != string(types.DockerManifestList) {
		t.Fatalf("MediaType = %s", p.MediaType)
	}
	if !slices.Equal(p.Manifests, wantManifests(f.images...)) {
		t.Fatalf("Manifests = %+v", p.Manifests)
	}
	for _, m := range p.Manifests {
		if m.MediaType != string(types.DockerManifestSchema2) {
			t.Fatalf("manifest media type %s", m.MediaType)
		}
	}
	if want := expectedSize([][]byte{f.index}, f.images...); p.Size != want {
		t.Fatalf("Size = %d, want %d", p.Size, want)
	}

	sub, err := e.Plan(t.Context(), Spec{Source: f.ref(), Platforms: []string{"linux/arm64"}})
	if err != nil {
		t.Fatal(err)
	}
	if !sub.Sparse || sub.Digest != f.digest || !slices.Equal(copiedDigests(sub), []string{f.images[1].Digest, f.digest}) {
		t.Fatalf("preserve subset: %+v", sub)
	}

	fp, err := e.Plan(t.Context(), Spec{Source: f.ref(), Platforms: []string{"linux/arm64", "linux/amd64"}, IndexMode: ModeFilter})
	if err != nil {
		t.Fatal(err)
	}
	if fp.Sparse || fp.Digest == f.digest || fp.MediaType != string(types.DockerManifestList) {
		t.Fatalf("filter: %+v", fp)
	}
	checkFilteredIndex(t, f.index, fp.root.out, []int{0, 1})
	if want := expectedSize([][]byte{fp.root.out}, f.images[0], f.images[1]); fp.Size != want {
		t.Fatalf("filter Size = %d, want %d", fp.Size, want)
	}

	var perr *UnknownPlatformError
	if _, err := e.Plan(t.Context(), Spec{Source: f.ref(), Platforms: []string{"linux/ppc64le"}}); !errors.As(err, &perr) {
		t.Fatalf("unknown platform: %v", err)
	}
}

func TestPlanSingleManifest(t *testing.T) {
	env := newMemoryEnv()
	repo := env.writer(t, "library/single")
	for _, docker := range []bool{false, true} {
		img := repo.HandImage("linux/arm/v7", docker)
		tag := "oci"
		if docker {
			tag = "docker"
		}
		repo.Raw(tag, img.MediaType, img.Raw)
		t.Run(tag, func(t *testing.T) {
			e := env.e
			for _, platforms := range [][]string{nil, {"linux/arm/v7"}, {"linux/arm"}} {
				for _, mode := range IndexModes {
					p, err := e.Plan(t.Context(), Spec{Source: repo.String() + ":" + tag, Platforms: platforms, IndexMode: mode})
					if err != nil {
						t.Fatalf("platforms %v, %s: %v", platforms, mode, err)
					}
					if p.Digest != img.Digest || p.SourceDigest != img.Digest || p.MediaType != string(img.MediaType) || p.Sparse {
						t.Fatalf("platforms %v, %s: %+v", platforms, mode, p)
					}
					if string(p.root.out) != string(img.Raw) {
						t.Fatal("single manifest bytes changed")
					}
					if !slices.Equal(p.Manifests, wantManifests(img)) || !slices.Equal(p.Platforms, []string{"linux/arm/v7"}) {
						t.Fatalf("Manifests %+v Platforms %v", p.Manifests, p.Platforms)
					}
					if len(p.Children) != 0 || !slices.Equal(copiedDigests(p), []string{img.Digest}) {
						t.Fatalf("Children = %v", p.Children)
					}
					if want := expectedSize(nil, img); p.Size != want {
						t.Fatalf("Size = %d, want %d", p.Size, want)
					}
				}
			}
			for _, platforms := range [][]string{{"linux/amd64"}, {"linux/arm/v6"}, {"linux/arm/v7", "windows/amd64"}} {
				_, err := e.Plan(t.Context(), Spec{Source: repo.String() + ":" + tag, Platforms: platforms})
				var perr *UnknownPlatformError
				if !errors.As(err, &perr) || !slices.Equal(perr.Available, []string{"linux/arm/v7"}) {
					t.Fatalf("platforms %v: %v", platforms, err)
				}
			}
		})
	}
}

// TestPlanArtifactWithoutPlatform: a single manifest whose config is not an image config has no
// platform; it is mirrored when no platform is asked for.
func TestPlanArtifactWithoutPlatform(t *testing.T) {
	env := newMemoryEnv()
	repo := env.writer(t, "library/artifact")
	config := repo.Blob([]byte(`{}`), "application/vnd.oci.empty.v1+json")
	layer := repo.Blob([]byte("hello"), "text/plain")
	raw := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":%d},"layers":[{"mediaType":%q,"digest":%q,"size":%d}]}`,
		types.OCIManifestSchema1, config.MediaType, config.Digest, config.Size, layer.MediaType, layer.Digest, layer.Size))
	img := testImage{Digest: repo.Raw("a", types.OCIManifestSchema1, raw).Digest.String(), MediaType: types.OCIManifestSchema1, Raw: raw,
		Blobs: []v1.Descriptor{config, layer}}
	e := env.e
	p, err := e.Plan(t.Context(), Spec{Source: repo.String() + ":a"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Digest != img.Digest || len(p.Manifests) != 0 || len(p.Platforms) != 0 || p.Size != expectedSize(nil, img) {
		t.Fatalf("%+v", p)
	}
	_, err = e.Plan(t.Context(), Spec{Source: repo.String() + ":a", Platforms: []string{"linux/amd64"}})
	var perr *UnknownPlatformError
	if !errors.As(err, &perr) || !strings.Contains(err.Error(), "(no platform)") {
		t.Fatalf("err = %v", err)
	}
}

func TestPlanSchema1(t *testing.T) {
	reg := newTestRegistry(t)
	repo := reg.writer(t, "src/old")
	raw := []byte(`{"schemaVersion": 1, "name": "src/old", "tag": "v1", "architecture": "amd64", "fsLayers": [], "history": [], "signatures": []}`)
	for _, mt := range []types.MediaType{types.DockerManifestSchema1Signed, types.DockerManifestSchema1} {
		repo.Raw("v1", mt, raw)
		_, err := testEngine(t, reg).Plan(t.Context(), Spec{Source: repo.String() + ":v1"})
		if err == nil || !strings.Contains(err.Error(), "schema 1") {
			t.Fatalf("%s: err = %v, want a schema 1 error", mt, err)
		}
	}
}

// TestPlanSameImageUnderTwoPlatforms: an index may list one image under two platforms. Selecting
// one of them copies the image, so the index is not sparse (and a validating registry takes it).
func TestPlanSameImageUnderTwoPlatforms(t *testing.T) {
	env := newMemoryEnv()
	repo := env.writer(t, "library/dup")
	img := repo.HandImage("linux/arm/v7", false)
	other := repo.HandImage("linux/amd64", false)
	v6 := registrytest.ImageEntry(img)
	v6.Platform = "linux/arm/v6"
	raw := registrytest.HandIndex(types.OCIImageIndex, v6, registrytest.ImageEntry(img), registrytest.ImageEntry(other))
	repo.Raw("v1", types.OCIImageIndex, raw)
	e := env.e

	p, err := e.Plan(t.Context(), Spec{Source: repo.String() + ":v1", Platforms: []string{"linux/arm/v7", "linux/amd64"}, Target: env.dst.Prefix() + "mirror/dup"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Sparse {
		t.Fatal("Sparse, but every entry's manifest is copied")
	}
	if !slices.Equal(p.Platforms, []string{"linux/arm/v6", "linux/arm/v7", "linux/amd64"}) {
		t.Fatalf("Platforms = %v", p.Platforms)
	}
	if want := expectedSize([][]byte{raw}, img, other); p.Size != want {
		t.Fatalf("Size = %d, want %d", p.Size, want)
	}
	if _, err := e.Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	checkTargetHolds(t, env.dst.Repository("mirror/dup"), p)

	// Both arm entries, in index order; amd64 is absent, so this one is sparse.
	p, err = e.Plan(t.Context(), Spec{Source: repo.String() + ":v1", Platforms: []string{"linux/arm"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Manifests) != 2 || p.Manifests[0].Platform != "linux/arm/v6" || p.Manifests[1].Platform != "linux/arm/v7" || !p.Sparse {
		t.Fatalf("Manifests %+v sparse %v", p.Manifests, p.Sparse)
	}
}

// TestPlanEmptyIndex: an index without entries (the list may even be omitted) plans in both modes.
func TestPlanEmptyIndex(t *testing.T) {
	env := newMemoryEnv()
	repo := env.writer(t, "library/empty")
	for tag, raw := range map[string][]byte{
		"omitted": []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json"}`),
		"empty":   []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[ ]}`),
	} {
		repo.Raw(tag, types.OCIImageIndex, raw)
		for _, mode := range IndexModes {
			p, err := env.e.Plan(t.Context(), Spec{Source: repo.String() + ":" + tag, IndexMode: mode})
			if err != nil {
				t.Fatalf("%s, %s: %v", tag, mode, err)
			}
			if len(p.Manifests) != 0 || p.Sparse {
				t.Fatalf("%s, %s: %+v", tag, mode, p)
			}
			if mode == ModeFilter {
				checkFilteredIndex(t, []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`), p.root.out, nil)
			}
		}
		var perr *UnknownPlatformError
		if _, err := env.e.Plan(t.Context(), Spec{Source: repo.String() + ":" + tag, Platforms: []string{"linux/amd64"}}); !errors.As(err, &perr) {
			t.Fatalf("%s: err = %v", tag, err)
		}
	}
}
