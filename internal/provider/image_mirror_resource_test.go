package provider

import (
	"fmt"
	"regexp"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
)

const mirrorAddr = "zarf_image_mirror.test"

func TestAccImageMirror_ociIndexKeepsDigest(t *testing.T) {
	t.Parallel()
	testFullMirrorKeepsBytes(t, types.OCIImageIndex)
}

func TestAccImageMirror_dockerListKeepsDigest(t *testing.T) {
	t.Parallel()
	testFullMirrorKeepsBytes(t, types.DockerManifestList)
}

func testFullMirrorKeepsBytes(t *testing.T, mediaType types.MediaType) {
	src, dst := registrytest.Start(t), registrytest.Start(t)
	raw := pushHandWrittenIndex(t, src, "app/web:1.0", mediaType)
	digest := sha256Of(raw)
	config := mirrorConfig(fmt.Sprintf("source = %q\ntarget = %q", src.Ref("app/web:1.0"), dst.Ref("mirror/web")), src, dst)
	ref := dst.Ref("mirror/web") + ":1.0@" + digest
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(mirrorAddr, plancheck.ResourceActionCreate),
					plancheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("digest"), knownvalue.StringExact(digest)),
					plancheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("ref"), knownvalue.StringExact(ref)),
					plancheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("manifests"), knownvalue.ListSizeExact(len(testImages))),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("source_digest"), knownvalue.StringExact(digest)),
					statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("digest"), knownvalue.StringExact(digest)),
					statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("id"), knownvalue.StringExact(dst.Ref("mirror/web")+"@"+digest)),
					statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("manifests").AtSliceIndex(1).AtMapKey("platform"), knownvalue.StringExact("linux/arm64/v8")),
				},
				Check: resource.ComposeTestCheckFunc(
					checkSameBytes(t, dst.Ref("mirror/web:1.0"), raw, mediaType),
					checkSameBytes(t, dst.Ref("mirror/web@"+digest), raw, mediaType),
				),
			},
			{
				Config:           config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

func TestAccImageMirror_sparseOnRegistryThatAcceptsIt(t *testing.T) {
	t.Parallel()
	src, dst := registrytest.Start(t), registrytest.Start(t, registrytest.WithIndexValidation("none"))
	raw := pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	digest := sha256Of(raw)
	config := mirrorConfig(fmt.Sprintf("source = %q\ntarget = %q\nplatforms = [\"linux/amd64\", \"linux/arm64\"]",
		src.Ref("app/web:1.0"), dst.Ref("mirror/web")), src, dst)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: config,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("digest"), knownvalue.StringExact(digest)),
				statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("manifests"), knownvalue.ListExact([]knownvalue.Check{
					platformIs("linux/amd64"), platformIs("linux/arm64/v8"),
				})),
			},
			Check: resource.ComposeTestCheckFunc(
				checkSameBytes(t, dst.Ref("mirror/web:1.0"), raw, types.OCIImageIndex),
				checkChildren(t, src.Ref("app/web:1.0"), dst.Ref("mirror/web"), map[string]bool{
					"linux/amd64": true, "linux/arm64/v8": true, "linux/arm/v7": false, "linux/s390x": false,
				}),
			),
		}},
	})
}

func TestAccImageMirror_sparseRejectedWithWaysOut(t *testing.T) {
	t.Parallel()
	src, dst := registrytest.Start(t), registrytest.Start(t)
	pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	config := mirrorConfig(fmt.Sprintf("source = %q\ntarget = %q\nplatforms = [\"linux/amd64\"]",
		src.Ref("app/web:1.0"), dst.Ref("mirror/web")), src, dst)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config:      config,
			ExpectError: regexp.MustCompile(`(?s)MANIFEST_BLOB_UNKNOWN.*Three ways out.*index_mode = "filter"`),
		}},
		CheckDestroy: func(*terraform.State) error {
			if registrytest.Exists(t, dst.Ref("mirror/web:1.0")) {
				return fmt.Errorf("the tag was written although the index was rejected")
			}
			return nil
		},
	})
}

func TestAccImageMirror_filterMode(t *testing.T) {
	t.Parallel()
	src, dst := registrytest.Start(t), registrytest.Start(t)
	raw := pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	config := mirrorConfig(fmt.Sprintf("source = %q\ntarget = %q\nplatforms = [\"linux/arm\"]\nindex_mode = \"filter\"",
		src.Ref("app/web:1.0"), dst.Ref("mirror/web:arm")), src, dst)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("digest"), knownvalue.StringRegexp(regexp.MustCompile(`^sha256:`))),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("source_digest"), knownvalue.StringExact(sha256Of(raw))),
					statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("manifests"), knownvalue.ListExact([]knownvalue.Check{platformIs("linux/arm/v7")})),
				},
				Check: checkFilteredIndex(t, dst.Ref("mirror/web:arm"), sha256Of(raw)),
			},
			{
				Config:           config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

func TestAccImageMirror_nestedIndex(t *testing.T) {
	t.Parallel()
	src, dst := registrytest.Start(t), registrytest.Start(t)
	inner := registrytest.PushIndex(t, src.Ref("app/nested"), registrytest.IndexSpec{Images: testImages[:2]})
	other := registrytest.PushImages(t, src.Ref("app/nested"), testImages[2:3], types.OCIManifestSchema1)
	outer := registrytest.PushRaw(t, src.Ref("app/nested:2.0"), types.OCIImageIndex,
		registrytest.MarshalIndex(t, types.OCIImageIndex, append([]v1.Descriptor{inner}, other...)))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: mirrorConfig(fmt.Sprintf("source = %q\ntarget = %q", src.Ref("app/nested:2.0"), dst.Ref("mirror/nested")), src, dst),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("digest"), knownvalue.StringExact(outer.Digest.String())),
				statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("manifests"), knownvalue.ListExact([]knownvalue.Check{
					platformIs("linux/amd64"), platformIs("linux/arm64/v8"), platformIs("linux/arm/v7"),
				})),
			},
			Check: func(*terraform.State) error {
				for _, d := range []string{outer.Digest.String(), inner.Digest.String(), other[0].Digest.String()} {
					if !registrytest.Exists(t, dst.Ref("mirror/nested@"+d)) {
						return fmt.Errorf("%s is missing at the target", d)
					}
				}
				return nil
			},
		}},
	})
}

func TestAccImageMirror_singleManifest(t *testing.T) {
	t.Parallel()
	src, dst := registrytest.Start(t), registrytest.Start(t)
	img := registrytest.PushImage(t, src.Ref("app/tool:3"), testImages[0], types.DockerManifestSchema2)
	raw, _ := registrytest.Fetch(t, src.Ref("app/tool:3"))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: mirrorConfig(fmt.Sprintf("source = %q\ntarget = %q\nplatforms = [\"linux/amd64\"]",
				src.Ref("app/tool:3"), dst.Ref("mirror/tool")), src, dst),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("digest"), knownvalue.StringExact(img.Digest.String())),
				statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("manifests"), knownvalue.ListExact([]knownvalue.Check{platformIs("linux/amd64")})),
			},
			Check: checkSameBytes(t, dst.Ref("mirror/tool:3"), raw, types.DockerManifestSchema2),
		}},
	})
}

func TestAccImageMirror_destroyDeletesUnlessKeptRemotely(t *testing.T) {
	t.Parallel()
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("keep_remotely=%v", keep), func(t *testing.T) {
			src, dst := registrytest.Start(t), registrytest.Start(t)
			raw := pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviders,
				Steps: []resource.TestStep{{
					Config: mirrorConfig(fmt.Sprintf("source = %q\ntarget = %q\nkeep_remotely = %v",
						src.Ref("app/web:1.0"), dst.Ref("mirror/web"), keep), src, dst),
				}},
				CheckDestroy: func(*terraform.State) error {
					if got := registrytest.Exists(t, dst.Ref("mirror/web@"+sha256Of(raw))); got != keep {
						return fmt.Errorf("after destroy with keep_remotely = %v, target exists = %v", keep, got)
					}
					return nil
				},
			})
		})
	}
}

func TestAccImageMirror_destroyOnRegistryWithoutDeletesWarns(t *testing.T) {
	t.Parallel()
	src, dst := registrytest.Start(t), registrytest.Start(t, registrytest.WithDelete(false))
	pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: mirrorConfig(fmt.Sprintf("source = %q\ntarget = %q", src.Ref("app/web:1.0"), dst.Ref("mirror/web")), src, dst),
		}},
		// The destroy succeeds (a warning, not an error) and the content stays.
		CheckDestroy: func(*terraform.State) error {
			if !registrytest.Exists(t, dst.Ref("mirror/web:1.0")) {
				return fmt.Errorf("a registry without deletes lost the mirror")
			}
			return nil
		},
	})
}

// Two mirrors of one image under two tags of one repository share a manifest: destroying one
// removes its tag only, and the other keeps its content.
func TestAccImageMirror_destroyKeepsContentOfAnotherTag(t *testing.T) {
	t.Parallel()
	src, dst := registrytest.Start(t), registrytest.Start(t)
	raw := pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	mirror := func(name, tag string) string {
		return fmt.Sprintf("resource \"zarf_image_mirror\" %q {\n  source = %q\n  target = %q\n}\n",
			name, src.Ref("app/web:1.0"), dst.Ref("mirror/web:"+tag))
	}
	both := providerConfig(src, dst) + mirror("stable", "stable") + mirror("pinned", "1.0")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{Config: both},
			{
				Config: providerConfig(src, dst) + mirror("pinned", "1.0"),
				Check: resource.ComposeTestCheckFunc(
					checkSameBytes(t, dst.Ref("mirror/web:1.0"), raw, types.OCIImageIndex),
					func(*terraform.State) error {
						if registrytest.Exists(t, dst.Ref("mirror/web:stable")) {
							return fmt.Errorf("the destroyed mirror's tag is still there")
						}
						return nil
					},
				),
			},
		},
		CheckDestroy: func(*terraform.State) error {
			if registrytest.Exists(t, dst.Ref("mirror/web@"+sha256Of(raw))) {
				return fmt.Errorf("the last mirror's destroy left the manifest in place")
			}
			return nil
		},
	})
}
