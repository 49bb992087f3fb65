package provider

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"
	tfjson "github.com/hashicorp/terraform-json"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
)

// reliabilityConfig mirrors source to target with the given max_retries; hosts are listed in
// insecure_registries (the test registries and proxies serve plain HTTP).
func reliabilityConfig(source, target string, maxRetries int, hosts ...string) string {
	return mirrorWith(providerBlock{insecure: hosts, maxRetries: &maxRetries}, source, target)
}

// TestAccImageMirror_indexPushFailingThenRecovering: a target that refuses the index push (503,
// also after the retry) fails the apply; nothing is in the state and the tag is not written. The
// next apply, with the target healthy, creates the mirror.
func TestAccImageMirror_indexPushFailingThenRecovering(t *testing.T) {
	t.Parallel()
	src, dst := registrytest.Start(t), registrytest.Start(t)
	proxy := registrytest.NewProxy(t, dst)
	raw := pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	digest := sha256Of(raw)
	proxy.AddFault(registrytest.Fault{Method: http.MethodPut, Path: "/manifests/" + regexp.QuoteMeta(digest) + "$",
		Action: registrytest.FaultStatus, Status: http.StatusServiceUnavailable})
	config := reliabilityConfig(src.Ref("app/web:1.0"), proxy.Ref("mirror/web"), 1, src.Host, proxy.Host)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config:      config,
				ExpectError: regexp.MustCompile(`(?s)Mirroring .* failed.*giving\s+up\s+after\s+2\s+attempts.*UNAVAILABLE`),
			},
			{
				PreConfig: func() {
					if registrytest.Exists(t, dst.Ref("mirror/web:1.0")) {
						t.Error("the tag was written although the index push failed")
					}
					if registrytest.Exists(t, dst.Ref("mirror/web@"+digest)) {
						t.Error("the index is at the target although its push failed")
					}
					proxy.ClearFaults()
				},
				Config: config,
				// Not in the state: the failed apply left nothing to update.
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(mirrorAddr, plancheck.ResourceActionCreate),
				}},
				Check: checkSameBytes(t, dst.Ref("mirror/web:1.0"), raw, types.OCIImageIndex),
			},
		},
	})
}

// TestAccImageMirror_transientFaults: rate limiting at the source (429 with Retry-After), a
// connection dropped in the middle of a blob, and 503 answers to pushes at the target are retried;
// the apply succeeds and the target holds the source's bytes.
func TestAccImageMirror_transientFaults(t *testing.T) {
	t.Parallel()
	src, dst := registrytest.Start(t), registrytest.Start(t)
	srcProxy, dstProxy := registrytest.NewProxy(t, src), registrytest.NewProxy(t, dst)
	raw := pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	srcProxy.AddFault(registrytest.Fault{Method: http.MethodGet, Path: "/manifests/", Times: 1,
		Action: registrytest.FaultStatus, Status: http.StatusTooManyRequests, RetryAfter: "1"})
	srcProxy.AddFault(registrytest.Fault{Method: http.MethodGet, Path: "/blobs/", Times: 1,
		Action: registrytest.FaultReset, Offset: 500})
	dstProxy.AddFault(registrytest.Fault{Method: http.MethodPut, Path: "/manifests/", Times: 2,
		Action: registrytest.FaultStatus, Status: http.StatusServiceUnavailable})
	config := reliabilityConfig(srcProxy.Ref("app/web:1.0"), dstProxy.Ref("mirror/web"), 3, srcProxy.Host, dstProxy.Host)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: config,
			Check:  checkSameBytes(t, dst.Ref("mirror/web:1.0"), raw, types.OCIImageIndex),
		}},
	})
	if n := srcProxy.Count(http.MethodGet, registrytest.KindManifest) + dstProxy.Count(http.MethodPut, registrytest.KindManifest); n == 0 {
		t.Fatal("no request went through the proxies")
	}
}

// TestAccImageMirror_sourceBlobGoneBeforeApply: a layer deleted at the source between plan and
// apply fails the apply with an error that names the source registry, which answered 404, not
// the target.
func TestAccImageMirror_sourceBlobGoneBeforeApply(t *testing.T) {
	t.Parallel()
	src, dst := registrytest.Start(t), registrytest.Start(t)
	raw := pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	var index struct {
		Manifests []struct {
			Digest string `json:"digest"`
		} `json:"manifests"`
	}
	var image struct {
		Layers []struct {
			Digest string `json:"digest"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(raw, &index); err != nil {
		t.Fatal(err)
	}
	manifest, _ := registrytest.Fetch(t, src.Ref("app/web@"+index.Manifests[0].Digest))
	if err := json.Unmarshal(manifest, &image); err != nil {
		t.Fatal(err)
	}
	layer := image.Layers[0].Digest
	deleteLayer := planFuncCheck(func(*tfjson.Plan) error {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodDelete, src.URL()+"/v2/app/web/blobs/"+layer, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("deleting %s at the source: %s", layer, resp.Status)
		}
		return nil
	})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config:           reliabilityConfig(src.Ref("app/web:1.0"), dst.Ref("mirror/web"), 1, src.Host, dst.Host),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{deleteLayer}},
			ExpectError: phrases("reading blob "+src.Ref("app/web@"+layer), src.Ref("app/web@"+layer)+" was not found in registry "+src.Host,
				"BLOB_UNKNOWN"),
		}},
	})
}
