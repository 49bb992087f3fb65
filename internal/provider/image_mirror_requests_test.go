package provider

import (
	"fmt"
	"maps"
	"net/http"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
)

// registryCheck is the API version check (GET /v2/) that precedes the first request to a
// registry.
var registryCheck = registrytest.Call{Method: http.MethodGet, Kind: registrytest.KindOther}

// TestAccImageMirror_noOpPlanRequests counts what one `terraform plan` (refresh and plan) of
// unchanged mirrors asks, exactly: at the source one HEAD per tag source and nothing for a
// source pinned by digest; at the target one HEAD for the tag and one per copied manifest, for
// each mirror; and one registry check per registry for the whole plan, not one per mirror.
func TestAccImageMirror_noOpPlanRequests(t *testing.T) {
	t.Parallel()
	src, dst := registrytest.Start(t), registrytest.Start(t)
	srcProxy, dstProxy := registrytest.NewProxy(t, src), registrytest.NewProxy(t, dst)
	spec := registrytest.IndexSpec{Images: testImages, Attestations: true} // 4 images, 4 attestations
	copied := 2 * len(testImages)                                          // manifests below the index
	config := hostsConfig(srcProxy.Host, dstProxy.Host)
	sources := map[string]string{"tag-a": "app/a", "tag-b": "app/b", "pinned": "app/pinned"}
	for name, repo := range sources {
		index := registrytest.PushIndex(t, src.Ref(repo+":1.0"), spec)
		source := srcProxy.Ref(repo + ":1.0")
		if name == "pinned" {
			source += "@" + index.Digest.String()
		}
		config += fmt.Sprintf("resource \"zarf_image_mirror\" %q {\n  source = %q\n  target = %q\n}\n", name, source, dstProxy.Ref("mirror/"+name))
	}
	reset := func() {
		srcProxy.Reset()
		dstProxy.Reset()
	}
	headManifests := func(n int) map[registrytest.Call]int { return map[registrytest.Call]int{headManifest: n} }
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{Config: config},
			{
				// One `terraform plan` (refresh included) between PreConfig and the PreApply checks.
				PreConfig: reset,
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
					planFuncCheck(func(*tfjson.Plan) error {
						return expectAllRequests(srcProxy, map[registrytest.Call]int{headManifest: 2, registryCheck: 1}, map[string]map[registrytest.Call]int{
							"app/a": headManifests(1), "app/b": headManifests(1), "app/pinned": nil,
						})
					}),
					planFuncCheck(func(*tfjson.Plan) error {
						perMirror := headManifests(1 + copied)
						return expectAllRequests(dstProxy, map[registrytest.Call]int{headManifest: 3 * (1 + copied), registryCheck: 1}, map[string]map[registrytest.Call]int{
							"mirror/tag-a": perMirror, "mirror/tag-b": perMirror, "mirror/pinned": perMirror,
						})
					}),
				}},
			},
		},
	})
}

// expectAllRequests compares every request the proxy counted, and those about each repository
// of perRepository (nil: none), with what is expected.
func expectAllRequests(proxy *registrytest.Proxy, want map[registrytest.Call]int, perRepository map[string]map[registrytest.Call]int) error {
	if got := proxy.Counts(); !maps.Equal(got, want) {
		return fmt.Errorf("requests at %s: %v, want exactly %v", proxy.Host, got, want)
	}
	for repo, want := range perRepository {
		if got := proxy.RepositoryCounts(repo); !maps.Equal(got, want) {
			return fmt.Errorf("requests about %s: %v, want exactly %v", repo, got, want)
		}
	}
	return nil
}
