package provider

import (
	"fmt"
	"os"
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

// The registry compatibility matrix runs the core cases on every registry implementation
// of registrytest.Implementations, once as the target (the source is a distribution v3
// registry with the default validation "all") and once as the source (the target is a
// distribution v3 registry with validation "none", which accepts everything). Subtests are
// named <implementation>/<side>/<case>, e.g.
//
//	TestAccRegistryCompatibility/ggcr/as-target/full-oci
//
// and log the name, version and configuration of both registries. A case declares the
// capabilities it needs (runsOn) and runs on every implementation that has them;
// TestRegistryCompatibilityCoverage fails when a case would run on no implementation.
//
// distribution 2.8 comes from Debian's docker-registry package (or $ZARF_REGISTRY_V2_BIN):
// without it its cases skip with a message, or fail when CI=true.

// compatCase is one case of the matrix.
type compatCase struct {
	name string
	// runsOn reports whether the case applies to the implementation under test, given its
	// capabilities; nil means every implementation.
	runsOn func(registrytest.Capabilities) bool
	// test runs the case from src to dst; dstCaps are the target's capabilities.
	test func(t *testing.T, src, dst *registrytest.Registry, dstCaps registrytest.Capabilities)
}

// compatSide is how the implementation under test takes part: as target or as source.
type compatSide struct {
	name  string
	cases []compatCase
	// start starts the implementation under test and the registry on the other side.
	start func(t *testing.T, impl registrytest.Implementation) (src, dst *registrytest.Registry, dstCaps registrytest.Capabilities)
}

// Selections of testImages for sparse indexes.
var (
	compatSparseSelection = []string{"linux/amd64", "linux/arm64"}
	compatSparseHeld      = []string{"linux/amd64", "linux/arm64/v8"} // what the selection holds
)

// compatRejectedPlatform returns a platform of testImages whose image alone, as a sparse
// index, the registry rejects; false when it accepts every such index.
func compatRejectedPlatform(c registrytest.Capabilities) (string, bool) {
	for _, img := range testImages {
		if !c.AcceptsIndexHolding(img.Platform) {
			return img.Platform, true
		}
	}
	return "", false
}

func compatSides() []compatSide {
	common := []compatCase{
		{name: "full-oci", test: func(t *testing.T, src, dst *registrytest.Registry, _ registrytest.Capabilities) {
			compatFull(t, src, dst, types.OCIImageIndex)
		}},
		{name: "full-docker", test: func(t *testing.T, src, dst *registrytest.Registry, _ registrytest.Capabilities) {
			compatFull(t, src, dst, types.DockerManifestList)
		}},
		{name: "filter", test: compatFilter},
	}
	target := append(append([]compatCase{}, common...),
		compatCase{name: "drift-target-tag", test: compatDriftTargetTag},
		compatCase{name: "destroy-deletes", runsOn: func(c registrytest.Capabilities) bool { return c.Deletes }, test: compatDestroy},
		compatCase{name: "destroy-warns", runsOn: func(c registrytest.Capabilities) bool { return !c.Deletes }, test: compatDestroy},
		compatCase{name: "sparse-accepted", runsOn: func(c registrytest.Capabilities) bool { return c.AcceptsIndexHolding(compatSparseHeld...) }, test: compatSparseAccepted},
		compatCase{name: "sparse-rejected", runsOn: func(c registrytest.Capabilities) bool { _, ok := compatRejectedPlatform(c); return ok }, test: compatSparseRejected},
		compatCase{name: "nested", runsOn: func(c registrytest.Capabilities) bool { return c.PlatformlessEntries }, test: compatNested},
	)
	source := append(append([]compatCase{}, common...),
		compatCase{name: "drift-source-moved", test: compatDriftSourceMoved},
		compatCase{name: "sparse", test: compatSparseAccepted}, // the target accepts it: the source serves the selected part
		compatCase{name: "nested", runsOn: func(c registrytest.Capabilities) bool { return c.PlatformlessEntries }, test: compatNested},
	)
	return []compatSide{
		{name: "as-target", cases: target, start: func(t *testing.T, impl registrytest.Implementation) (*registrytest.Registry, *registrytest.Registry, registrytest.Capabilities) {
			dst := impl.Start(t) // first: a missing implementation skips before anything else starts
			return registrytest.Start(t), dst, impl.Caps
		}},
		{name: "as-source", cases: source, start: func(t *testing.T, impl registrytest.Implementation) (*registrytest.Registry, *registrytest.Registry, registrytest.Capabilities) {
			src := impl.Start(t)
			other := compatImplementation(t, "distribution-v3-none")
			return src, other.Start(t), other.Caps
		}},
	}
}

// compatImplementation returns the implementation called name.
func compatImplementation(t *testing.T, name string) registrytest.Implementation {
	t.Helper()
	for _, impl := range registrytest.Implementations() {
		if impl.Name == name {
			return impl
		}
	}
	t.Fatalf("no registry implementation %q", name)
	return registrytest.Implementation{}
}

func TestAccRegistryCompatibility(t *testing.T) {
	if os.Getenv(resource.EnvTfAcc) == "" {
		t.Skipf("acceptance test: set %s=1", resource.EnvTfAcc)
	}
	t.Parallel()
	for _, impl := range registrytest.Implementations() {
		for _, side := range compatSides() {
			for _, c := range side.cases {
				if c.runsOn != nil && !c.runsOn(impl.Caps) {
					continue
				}
				t.Run(impl.Name+"/"+side.name+"/"+c.name, func(t *testing.T) {
					t.Parallel()
					src, dst, dstCaps := side.start(t, impl)
					t.Logf("%s %s on %s (%s): %s -> %s", c.name, side.name, impl.Name, impl.Description, src.Name, dst.Name)
					c.test(t, src, dst, dstCaps)
				})
			}
		}
	}
}

// TestRegistryCompatibilityCoverage fails when a case of the matrix runs on no
// implementation, and so would be skipped everywhere.
func TestRegistryCompatibilityCoverage(t *testing.T) {
	t.Parallel()
	for _, side := range compatSides() {
		for _, c := range side.cases {
			var on []string
			for _, impl := range registrytest.Implementations() {
				if c.runsOn == nil || c.runsOn(impl.Caps) {
					on = append(on, impl.Name)
				}
			}
			if len(on) == 0 {
				t.Errorf("%s/%s runs on no registry implementation", side.name, c.name)
			}
			t.Logf("%s/%s runs on %v", side.name, c.name, on)
		}
	}
}

// compatMirror is the configuration of a mirror of src's app/web:1.0 to dst's target.
func compatMirror(src, dst *registrytest.Registry, target, extra string) string {
	return mirrorConfig(fmt.Sprintf("source = %q\ntarget = %q\n%s", src.Ref("app/web:1.0"), dst.Ref(target), extra), src, dst)
}

// compatFull mirrors every platform of a hand-written index: byte-exact at the tag and the
// digest, every child present; the plan knows the digest.
func compatFull(t *testing.T, src, dst *registrytest.Registry, mediaType types.MediaType) {
	raw := pushHandWrittenIndex(t, src, "app/web:1.0", mediaType)
	digest := sha256Of(raw)
	all := map[string]bool{}
	for _, img := range testImages {
		all[img.Platform] = true
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: compatMirror(src, dst, "mirror/web", ""),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(mirrorAddr, plancheck.ResourceActionCreate),
				plancheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("digest"), knownvalue.StringExact(digest)),
			}},
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("ref"), knownvalue.StringExact(dst.Ref("mirror/web:1.0@"+digest))),
				statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("manifests"), knownvalue.ListSizeExact(len(testImages))),
			},
			Check: resource.ComposeTestCheckFunc(
				checkSameBytes(t, dst.Ref("mirror/web:1.0"), raw, mediaType),
				checkSameBytes(t, dst.Ref("mirror/web@"+digest), raw, mediaType),
				checkChildren(t, src.Ref("app/web:1.0"), dst.Ref("mirror/web"), all),
			),
		}},
	})
}

// compatFilter mirrors linux/arm/v7 as a new index.
func compatFilter(t *testing.T, src, dst *registrytest.Registry, _ registrytest.Capabilities) {
	raw := pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: compatMirror(src, dst, "mirror/web:arm", "platforms = [\"linux/arm\"]\nindex_mode = \"filter\""),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("source_digest"), knownvalue.StringExact(sha256Of(raw))),
				statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("manifests"), knownvalue.ListExact([]knownvalue.Check{platformIs("linux/arm/v7")})),
			},
			Check: checkFilteredIndex(t, dst.Ref("mirror/web:arm"), sha256Of(raw)),
		}},
	})
}

// compatOtherIndex pushes to ref an index with content of its own and returns its bytes.
func compatOtherIndex(t *testing.T, ref string) []byte {
	t.Helper()
	registrytest.PushIndex(t, ref, registrytest.IndexSpec{Images: []registrytest.ImageSpec{
		{Platform: "linux/amd64", Layers: []int64{512}, Seed: 42},
		{Platform: "linux/arm64", Layers: []int64{512}, Seed: 42},
	}})
	raw, _ := registrytest.Fetch(t, ref)
	return raw
}

// compatDriftTargetTag overwrites the target tag: the plan proposes an update that restores
// it, and the plan after that apply is empty (the harness checks that after every apply).
func compatDriftTargetTag(t *testing.T, src, dst *registrytest.Registry, _ registrytest.Capabilities) {
	raw := pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	config := compatMirror(src, dst, "mirror/web", "")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{Config: config},
			{
				PreConfig: func() { compatOtherIndex(t, dst.Ref("mirror/web:1.0")) },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(mirrorAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("digest"), knownvalue.StringExact(sha256Of(raw))),
				}},
				Check: checkSameBytes(t, dst.Ref("mirror/web:1.0"), raw, types.OCIImageIndex),
			},
		},
	})
}

// compatDriftSourceMoved moves the source tag to another index: the plan proposes an update
// to the new digest.
func compatDriftSourceMoved(t *testing.T, src, dst *registrytest.Registry, _ registrytest.Capabilities) {
	pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	config := compatMirror(src, dst, "mirror/web", "")
	var moved []byte
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{Config: config},
			{
				PreConfig: func() { moved = compatOtherIndex(t, src.Ref("app/web:1.0")) },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(mirrorAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("digest"), knownvalue.StringFunc(func(got string) error {
						if want := sha256Of(moved); got != want {
							return fmt.Errorf("planned digest %s, want the moved tag's %s", got, want)
						}
						return nil
					})),
				}},
				Check: func(s *terraform.State) error {
					return checkSameBytes(t, dst.Ref("mirror/web:1.0"), moved, types.OCIImageIndex)(s)
				},
			},
		},
	})
}

// compatDestroy destroys a mirror: the index is gone by digest where the registry deletes,
// and stays (the destroy only warns) where it does not.
func compatDestroy(t *testing.T, src, dst *registrytest.Registry, caps registrytest.Capabilities) {
	raw := pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	digest := sha256Of(raw)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps:                    []resource.TestStep{{Config: compatMirror(src, dst, "mirror/web", "")}},
		CheckDestroy: func(*terraform.State) error {
			exists := registrytest.Exists(t, dst.Ref("mirror/web@"+digest))
			if exists == caps.Deletes {
				return fmt.Errorf("after destroy on %s (deletes: %t), the index exists by digest = %t", dst.Name, caps.Deletes, exists)
			}
			t.Logf("after destroy: index exists by digest = %t, tag exists = %t", exists, registrytest.Exists(t, dst.Ref("mirror/web:1.0")))
			return nil
		},
	})
}

// compatSparseAccepted mirrors two platforms in preserve mode to a registry that accepts
// the sparse index: the source's bytes, only the selected children.
func compatSparseAccepted(t *testing.T, src, dst *registrytest.Registry, _ registrytest.Capabilities) {
	raw := pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	held := map[string]bool{}
	for _, p := range compatSparseHeld {
		held[p] = true
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: compatMirror(src, dst, "mirror/web", fmt.Sprintf("platforms = [%q, %q]", compatSparseSelection[0], compatSparseSelection[1])),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("digest"), knownvalue.StringExact(sha256Of(raw))),
				statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("manifests"), knownvalue.ListExact([]knownvalue.Check{
					platformIs(compatSparseHeld[0]), platformIs(compatSparseHeld[1]),
				})),
			},
			Check: resource.ComposeTestCheckFunc(
				checkSameBytes(t, dst.Ref("mirror/web:1.0"), raw, types.OCIImageIndex),
				checkChildren(t, src.Ref("app/web:1.0"), dst.Ref("mirror/web"), held),
			),
		}},
	})
}

// compatSparseRejected mirrors one platform in preserve mode to a registry that rejects
// that sparse index: the designed error, quoting the registry, and no tag written.
func compatSparseRejected(t *testing.T, src, dst *registrytest.Registry, caps registrytest.Capabilities) {
	platform, _ := compatRejectedPlatform(caps)
	t.Logf("selecting %s alone", platform)
	pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config:      compatMirror(src, dst, "mirror/web", fmt.Sprintf("platforms = [%q]", platform)),
			ExpectError: regexp.MustCompile(`(?s)MANIFEST_(BLOB_)?UNKNOWN.*Three ways out.*index_mode = "filter"`),
		}},
		CheckDestroy: func(*terraform.State) error {
			if registrytest.Exists(t, dst.Ref("mirror/web:1.0")) {
				return fmt.Errorf("the tag was written although the index was rejected")
			}
			return nil
		},
	})
}

// compatNested mirrors an index that lists an index (an entry without platform) and an image.
func compatNested(t *testing.T, src, dst *registrytest.Registry, _ registrytest.Capabilities) {
	inner := registrytest.PushIndex(t, src.Ref("app/nested"), registrytest.IndexSpec{Images: testImages[:2]})
	other := registrytest.PushImages(t, src.Ref("app/nested"), testImages[2:3], types.OCIManifestSchema1)
	outerRaw := registrytest.MarshalIndex(t, types.OCIImageIndex, append([]v1.Descriptor{inner}, other...))
	outer := registrytest.PushRaw(t, src.Ref("app/nested:2.0"), types.OCIImageIndex, outerRaw)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: mirrorConfig(fmt.Sprintf("source = %q\ntarget = %q", src.Ref("app/nested:2.0"), dst.Ref("mirror/nested")), src, dst),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("digest"), knownvalue.StringExact(outer.Digest.String())),
				statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("manifests"), knownvalue.ListSizeExact(3)),
			},
			Check: func(s *terraform.State) error {
				if err := checkSameBytes(t, dst.Ref("mirror/nested:2.0"), outerRaw, types.OCIImageIndex)(s); err != nil {
					return err
				}
				for _, d := range []string{inner.Digest.String(), other[0].Digest.String()} {
					if !registrytest.Exists(t, dst.Ref("mirror/nested@"+d)) {
						return fmt.Errorf("%s is missing at the target", d)
					}
				}
				return nil
			},
		}},
	})
}
