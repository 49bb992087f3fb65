package provider

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
)

// TestAccImageMirror_layoutReferrers: registry → layout → registry with referrers = true. The
// source (distribution v3, no referrers API) has a cosign signature of the index and an SBOM
// artifact (subject: the arm64 image); both travel through the layout as index.json entries of
// their own and are found at the final registry (cosign tag, fallback tag), the index digest
// unchanged. Destroy empties the layout.
func TestAccImageMirror_layoutReferrers(t *testing.T) {
	t.Parallel()
	src, dst := registrytest.Start(t), registrytest.Start(t)
	raw := pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	digest := sha256Of(raw)
	var index v1.IndexManifest
	if err := json.Unmarshal(raw, &index); err != nil {
		t.Fatal(err)
	}
	arm64 := index.Manifests[1]
	if arm64.Platform == nil || arm64.Platform.Architecture != "arm64" {
		t.Fatalf("the second entry of the test index is %+v, not arm64", arm64.Platform)
	}
	repo := src.Ref("app/web")
	sig := pushCosign(t, repo, digest, ".sig")
	sbom := pushSBOM(t, repo, arm64)
	sigTag := registrytest.CosignTag(digest, ".sig")

	dir := filepath.Join(t.TempDir(), "package", "images")
	layoutRef := "oci-layout://" + dir
	pack := fmt.Sprintf("resource \"zarf_image_mirror\" \"pack\" {\n  source    = %q\n  target    = %q\n  referrers = true\n}\n",
		src.Ref("app/web:1.0"), layoutRef)
	unpack := fmt.Sprintf("resource \"zarf_image_mirror\" \"unpack\" {\n  source    = %q\n  target    = %q\n  referrers = true\n}\n",
		layoutRef+":1.0", dst.Ref("final/web"))
	cfg1 := providerConfig(src, dst) + pack
	cfg2 := cfg1 + unpack
	referrers := knownvalue.ListExact([]knownvalue.Check{
		referrerIs(sbom, exampleSBOM, arm64.Digest.String(), ""),
		referrerIs(sig, registrytest.CosignSimpleSigning, digest, sigTag),
	})
	final := dst.Ref("final/web")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: cfg1,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue("zarf_image_mirror.pack", tfjsonpath.New("copied_referrers"), referrers),
				}},
				Check: resource.ComposeTestCheckFunc(
					// the mirror under its ref, the signature under its cosign tag, the SBOM
					// without ref name (every blob present: layoutEntries checks)
					checkLayout(t, dir, map[string]string{"1.0": digest, sigTag: sha256Of(sig), "": sha256Of(sbom)}),
					checkLayoutBlob(dir, sha256Of(sbom), sbom),
					checkLayoutBlob(dir, sha256Of(sig), sig),
				),
			},
			{
				Config: cfg2,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue("zarf_image_mirror.unpack", tfjsonpath.New("copied_referrers"), referrers),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("zarf_image_mirror.unpack", tfjsonpath.New("digest"), knownvalue.StringExact(digest)),
					statecheck.CompareValuePairs("zarf_image_mirror.pack", tfjsonpath.New("copied_referrers"),
						"zarf_image_mirror.unpack", tfjsonpath.New("copied_referrers"), compare.ValuesSame()),
				},
				Check: resource.ComposeTestCheckFunc(
					checkSameBytes(t, final+":1.0", raw, types.OCIImageIndex),
					checkSameBytes(t, final+":"+sigTag, sig, types.OCIManifestSchema1),
					checkSameBytes(t, final+"@"+sha256Of(sbom), sbom, types.OCIManifestSchema1),
					func(*terraform.State) error {
						if listed := registrytest.Referrers(t, final, arm64.Digest.String()); !slices.Contains(listed, sha256Of(sbom)) {
							return fmt.Errorf("%s lists %v as referrers of %s, not the SBOM %s", final, listed, arm64.Digest, sha256Of(sbom))
						}
						if !registrytest.Exists(t, final+":"+registrytest.CosignTag(arm64.Digest.String(), "")) {
							return fmt.Errorf("%s has no fallback tag for %s", final, arm64.Digest)
						}
						return nil
					},
				),
			},
			{
				Config:           cfg2,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
		CheckDestroy: func(*terraform.State) error { return checkLayout(t, dir, map[string]string{})(nil) },
	})
}

// TestAccImageMirror_importLayout imports a layout target, as "oci-layout://<path>:<ref>" alone
// (everything but source recovered from the layout) and with ",<source>" (the plan after
// import is empty).
func TestAccImageMirror_importLayout(t *testing.T) {
	t.Parallel()
	src := registrytest.Start(t)
	raw := pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	target := "oci-layout://" + filepath.Join(t.TempDir(), "images") + ":1.0"
	config := mirrorConfig(fmt.Sprintf("source = %q\ntarget = %q", src.Ref("app/web:1.0"), target), src)
	withSource := target + "," + src.Ref("app/web:1.0")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("digest"), knownvalue.StringExact(sha256Of(raw))),
				},
			},
			{
				Config:            config,
				ResourceName:      mirrorAddr,
				ImportState:       true,
				ImportStateId:     withSource,
				ImportStateVerify: true,
			},
			{
				Config:           config,
				ResourceName:     mirrorAddr,
				ImportState:      true,
				ImportStateKind:  resource.ImportBlockWithID,
				ImportStateId:    withSource,
				ImportPlanChecks: resource.ImportPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{
				Config:                  config,
				ResourceName:            mirrorAddr,
				ImportState:             true,
				ImportStateId:           target,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"source"},
			},
			{
				Config:             config,
				ResourceName:       mirrorAddr,
				ImportState:        true,
				ImportStateKind:    resource.ImportBlockWithID,
				ImportStateId:      target,
				ExpectNonEmptyPlan: true,
				ImportPlanChecks: resource.ImportPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(mirrorAddr, plancheck.ResourceActionUpdate),
					expectPlanChangesOnly(mirrorAddr, "source"),
				}},
			},
		},
	})
}

// TestAccImageIndex_layout reads an index from a layout, by ref name, by the original image
// reference and by digest: the same values as from the registry it came from.
func TestAccImageIndex_layout(t *testing.T) {
	t.Parallel()
	src := registrytest.Start(t)
	raw := pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	digest := sha256Of(raw)
	size := contentSize(t, src.Ref("app/web:1.0"))
	dir := filepath.Join(t.TempDir(), "images")
	layoutRef := "oci-layout://" + dir
	pack := fmt.Sprintf("resource \"zarf_image_mirror\" \"pack\" {\n  source = %q\n  target = %q\n}\n", src.Ref("app/web:1.0"), layoutRef)
	var reads string
	refs := map[string]string{
		"by_ref": layoutRef + ":1.0", "by_name": layoutRef + ":" + src.Ref("app/web:1.0"), "by_digest": layoutRef + "@" + digest,
		"registry": src.Ref("app/web:1.0"),
	}
	var checks []statecheck.StateCheck
	for _, key := range []string{"by_ref", "by_name", "by_digest", "registry"} {
		reads += fmt.Sprintf("data \"zarf_image_index\" %q {\n  ref = %q\n}\n", key, refs[key])
		addr := "data.zarf_image_index." + key
		checks = append(checks,
			statecheck.ExpectKnownValue(addr, tfjsonpath.New("digest"), knownvalue.StringExact(digest)),
			statecheck.ExpectKnownValue(addr, tfjsonpath.New("media_type"), knownvalue.StringExact(string(types.OCIImageIndex))),
			statecheck.ExpectKnownValue(addr, tfjsonpath.New("platforms"), knownvalue.ListExact(testPlatforms)),
			statecheck.ExpectKnownValue(addr, tfjsonpath.New("manifests"), knownvalue.ListExact(expectedManifests(t, raw))),
			statecheck.ExpectKnownValue(addr, tfjsonpath.New("size"), knownvalue.Int64Exact(size)),
		)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{Config: providerConfig(src) + pack},
			{Config: providerConfig(src) + pack + reads, ConfigStateChecks: checks},
		},
	})
}
