package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/zarf-dev/terraform-provider-zarf/internal/mirror"
	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
)

const indexAddr = "data.zarf_image_index.test"

// testPlatforms are the platforms of testImages, in index order.
var testPlatforms = []knownvalue.Check{
	knownvalue.StringExact("linux/amd64"), knownvalue.StringExact("linux/arm64/v8"),
	knownvalue.StringExact("linux/arm/v7"), knownvalue.StringExact("linux/s390x"),
}

func TestAccImageIndex_ociIndexWithAttestations(t *testing.T) {
	t.Parallel()
	src, dst := registrytest.Start(t), registrytest.Start(t)
	raw := pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	size := contentSize(t, src.Ref("app/web:1.0"))
	// The pattern of examples/data-sources/zarf_image_index: the data source's digest pins the
	// mirror's source and its platforms choose what to copy.
	config := providerConfig(src, dst) + fmt.Sprintf(`
data "zarf_image_index" "test" {
  ref = %q
}
resource "zarf_image_mirror" "test" {
  source     = "%s@${data.zarf_image_index.test.digest}"
  target     = %q
  platforms  = [for p in data.zarf_image_index.test.platforms : p if startswith(p, "linux/arm")]
  index_mode = "filter"
}
`, src.Ref("app/web:1.0"), src.Ref("app/web:1.0"), dst.Ref("mirror/web:arm"))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				// The data source is read during plan, so the mirror is planned in full.
				plancheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("source_digest"), knownvalue.StringExact(sha256Of(raw))),
				plancheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("manifests"), knownvalue.ListExact([]knownvalue.Check{
					platformIs("linux/arm64/v8"), platformIs("linux/arm/v7"),
				})),
			}},
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(indexAddr, tfjsonpath.New("digest"), knownvalue.StringExact(sha256Of(raw))),
				statecheck.ExpectKnownValue(indexAddr, tfjsonpath.New("media_type"), knownvalue.StringExact(string(types.OCIImageIndex))),
				// Four images and four attestation entries (unknown/unknown): the platforms are the
				// images'.
				statecheck.ExpectKnownValue(indexAddr, tfjsonpath.New("platforms"), knownvalue.ListExact(testPlatforms)),
				statecheck.ExpectKnownValue(indexAddr, tfjsonpath.New("manifests"), knownvalue.ListExact(expectedManifests(t, raw))),
				statecheck.ExpectKnownValue(indexAddr, tfjsonpath.New("size"), knownvalue.Int64Exact(size)),
				statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("manifests"), knownvalue.ListExact([]knownvalue.Check{
					platformIs("linux/arm64/v8"), platformIs("linux/arm/v7"),
				})),
			},
		}},
	})
}

func TestAccImageIndex_dockerListAndSingleImage(t *testing.T) {
	t.Parallel()
	src := registrytest.Start(t)
	raw := pushHandWrittenIndex(t, src, "app/web:1.0", types.DockerManifestList)
	size := contentSize(t, src.Ref("app/web:1.0"))
	img := registrytest.PushImage(t, src.Ref("app/tool:3"), testImages[2], types.DockerManifestSchema2)
	imgSize := contentSize(t, src.Ref("app/tool:3"))
	config := providerConfig(src) + fmt.Sprintf(`
data "zarf_image_index" "test" {
  ref = %q
}
data "zarf_image_index" "single" {
  ref = %q
}
`, src.Ref("app/web:1.0"), src.Ref("app/tool:3"))
	single := "data.zarf_image_index.single"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: config,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(indexAddr, tfjsonpath.New("digest"), knownvalue.StringExact(sha256Of(raw))),
				statecheck.ExpectKnownValue(indexAddr, tfjsonpath.New("media_type"), knownvalue.StringExact(string(types.DockerManifestList))),
				statecheck.ExpectKnownValue(indexAddr, tfjsonpath.New("platforms"), knownvalue.ListExact(testPlatforms)),
				statecheck.ExpectKnownValue(indexAddr, tfjsonpath.New("manifests"), knownvalue.ListExact(expectedManifests(t, raw))),
				statecheck.ExpectKnownValue(indexAddr, tfjsonpath.New("manifests").AtSliceIndex(0).AtMapKey("media_type"),
					knownvalue.StringExact(string(types.DockerManifestSchema2))),
				statecheck.ExpectKnownValue(indexAddr, tfjsonpath.New("size"), knownvalue.Int64Exact(size)),

				// A single image: its platform comes from its config.
				statecheck.ExpectKnownValue(single, tfjsonpath.New("digest"), knownvalue.StringExact(img.Digest.String())),
				statecheck.ExpectKnownValue(single, tfjsonpath.New("media_type"), knownvalue.StringExact(string(types.DockerManifestSchema2))),
				statecheck.ExpectKnownValue(single, tfjsonpath.New("platforms"), knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("linux/arm/v7")})),
				statecheck.ExpectKnownValue(single, tfjsonpath.New("manifests"), knownvalue.ListExact([]knownvalue.Check{
					knownvalue.ObjectExact(map[string]knownvalue.Check{
						"platform":   knownvalue.StringExact("linux/arm/v7"),
						"digest":     knownvalue.StringExact(img.Digest.String()),
						"media_type": knownvalue.StringExact(string(types.DockerManifestSchema2)),
						"size":       knownvalue.Int64Exact(img.Size),
					}),
				})),
				statecheck.ExpectKnownValue(single, tfjsonpath.New("size"), knownvalue.Int64Exact(imgSize)),
			},
		}},
	})
}

func TestAccImageIndex_missingRef(t *testing.T) {
	t.Parallel()
	src := registrytest.Start(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config:      providerConfig(src) + fmt.Sprintf("data \"zarf_image_index\" \"test\" {\n  ref = %q\n}\n", src.Ref("app/none:1")),
			ExpectError: regexp.MustCompile(`(?s)Cannot\s+read.*not\s+found\s+in\s+registry\s+` + regexp.QuoteMeta(src.Host) + `.*MANIFEST_UNKNOWN`),
		}},
	})
}

// sharedContent is an index of two images that share a layer, and its size computed by hand.
type sharedContent struct {
	ref     string // the index, by tag
	size    int64  // index + both manifests + both configs + the three distinct layers
	armOnly int64  // index + the arm64 manifest, its config and its one (shared) layer
}

// pushSharedContent pushes, to repo, image A (linux/amd64, two layers) and image B
// (linux/arm64) whose only layer is A's first, and an OCI index over both tagged "1".
func pushSharedContent(t *testing.T, reg *registrytest.Registry) sharedContent {
	t.Helper()
	repo := reg.Ref("app/shared")
	a := registrytest.PushImage(t, repo, registrytest.ImageSpec{Platform: "linux/amd64", Layers: []int64{3000, 1000}, Seed: 7}, types.OCIManifestSchema1)
	// Image C only provides a linux/arm64 config blob for B; it is not in the index.
	c := registrytest.PushImage(t, repo, registrytest.ImageSpec{Platform: "linux/arm64", Layers: []int64{10}, Seed: 8}, types.OCIManifestSchema1)
	var ma, mc v1.Manifest
	rawA, _ := registrytest.Fetch(t, repo+"@"+a.Digest.String())
	rawC, _ := registrytest.Fetch(t, repo+"@"+c.Digest.String())
	if err := json.Unmarshal(rawA, &ma); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(rawC, &mc); err != nil {
		t.Fatal(err)
	}
	rawB, err := json.Marshal(v1.Manifest{
		SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: mc.Config, Layers: []v1.Descriptor{ma.Layers[0]},
	})
	if err != nil {
		t.Fatal(err)
	}
	b := registrytest.PushRaw(t, repo, types.OCIManifestSchema1, rawB)
	b.Platform = &v1.Platform{OS: "linux", Architecture: "arm64"}
	rawIndex := registrytest.MarshalIndex(t, types.OCIImageIndex, []v1.Descriptor{a, b})
	registrytest.PushRaw(t, repo+":1", types.OCIImageIndex, rawIndex)

	index := int64(len(rawIndex))
	return sharedContent{
		ref: repo + ":1",
		size: index + int64(len(rawA)) + int64(len(rawB)) + ma.Config.Size + mc.Config.Size +
			ma.Layers[0].Size + ma.Layers[1].Size, // B's layer is A's first: counted once
		armOnly: index + int64(len(rawB)) + mc.Config.Size + ma.Layers[0].Size,
	}
}

func TestAccImageIndex_sizeCountsSharedBlobsOnce(t *testing.T) {
	t.Parallel()
	src, dst := registrytest.Start(t), registrytest.Start(t)
	shared := pushSharedContent(t, src)
	if got := contentSize(t, shared.ref); got != shared.size {
		t.Fatalf("the two ways of computing the expected size disagree: %d and %d", got, shared.size)
	}
	config := providerConfig(src, dst) + fmt.Sprintf(`
data "zarf_image_index" "test" {
  ref = %q
}
resource "zarf_image_mirror" "test" {
  source = %q
  target = %q
}
`, shared.ref, shared.ref, dst.Ref("mirror/shared"))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("size"), knownvalue.Int64Exact(shared.size)),
			}},
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(indexAddr, tfjsonpath.New("size"), knownvalue.Int64Exact(shared.size)),
				statecheck.ExpectKnownValue(indexAddr, tfjsonpath.New("platforms"), knownvalue.ListExact([]knownvalue.Check{
					knownvalue.StringExact("linux/amd64"), knownvalue.StringExact("linux/arm64"),
				})),
				statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("size"), knownvalue.Int64Exact(shared.size)),
			},
		}},
	})
}

// TestPlanRecord_sizeOfSelection: a selection counts the index, the selected manifests and
// their blobs, whichever image the blobs are shared with.
func TestPlanRecord_sizeOfSelection(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t)
	shared := pushSharedContent(t, reg)
	r := testResource(t, reg.Host)
	for _, tc := range []struct {
		platforms []string
		want      int64
	}{
		{nil, shared.size},
		{[]string{"linux/amd64", "linux/arm64"}, shared.size},
		{[]string{"linux/arm64"}, shared.armOnly},
	} {
		rec, _, err := r.engine.Replan(context.Background(), mirror.Spec{
			Source: shared.ref, Target: reg.Ref("mirror/shared"), Platforms: tc.platforms, IndexMode: mirror.ModePreserve, Attestations: true,
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Size != tc.want {
			t.Errorf("platforms %v: size %d, want %d", tc.platforms, rec.Size, tc.want)
		}
	}
}
