package provider

// The safety rules of the reliability guide ("What the provider never does"), each proved through
// Terraform: a target that is the source, a target written otherwise, two mirrors on one tag,
// destroys racing creates, a target that cannot take the mirror, a source that is gone.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/zarf-dev/terraform-provider-zarf/internal/mirror"
	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
)

// targetExists fails unless every reference exists at its registry.
func targetExists(t *testing.T, refs ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for _, ref := range refs {
			if !registrytest.Exists(t, ref) {
				return fmt.Errorf("%s is gone", ref)
			}
		}
		return nil
	}
}

// stateFuncCheck is a state check written as a function of nothing: for checks at the
// registries of configurations that Check cannot take (for_each keys).
type stateFuncCheck func(*terraform.State) error

func (f stateFuncCheck) CheckState(_ context.Context, _ statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	resp.Error = f(nil)
}

func TestValidateConfig_targetIsSource(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	server, err := testProviders["zarf"]()
	if err != nil {
		t.Fatal(err)
	}
	schemas, err := server.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	typ := schemas.ResourceSchemas["zarf_image_mirror"].ValueType()
	validate := func(source, target, mode string) []*tfprotov6.Diagnostic {
		t.Helper()
		values := map[string]tftypes.Value{}
		for name, attrType := range typ.(tftypes.Object).AttributeTypes {
			values[name] = tftypes.NewValue(attrType, nil)
		}
		values["source"] = tftypes.NewValue(tftypes.String, source)
		values["target"] = tftypes.NewValue(tftypes.String, target)
		if mode != "" {
			values["index_mode"] = tftypes.NewValue(tftypes.String, mode)
		}
		config, err := tfprotov6.NewDynamicValue(typ, tftypes.NewValue(typ, values))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := server.ValidateResourceConfig(ctx, &tfprotov6.ValidateResourceConfigRequest{TypeName: "zarf_image_mirror", Config: &config})
		if err != nil {
			t.Fatal(err)
		}
		return resp.Diagnostics
	}
	for _, tc := range []struct{ source, target, mode string }{
		{"r.example/demo/lin:1.0", "r.example/demo/lin:1.0", ""},
		{"r.example/demo/lin:1.0", "r.example/demo/lin", ""},
		{"r.example/demo/lin:1.0", "r.example/demo/lin", "filter"},
		{"nginx:1.27", "docker.io/library/nginx", ""},
		{"docker.io/library/nginx", "index.docker.io/library/nginx:latest", ""},
		{"r.example/demo/lin@sha256:" + strings.Repeat("a", 64), "r.example/demo/lin", ""},
	} {
		diags := validate(tc.source, tc.target, tc.mode)
		if len(diags) != 1 || diags[0].Severity != tfprotov6.DiagnosticSeverityError || diags[0].Summary != "Target is the source" ||
			diags[0].Attribute.String() != tftypes.NewAttributePath().WithAttributeName("target").String() {
			t.Errorf("source %q, target %q: diagnostics %+v, want one error on target", tc.source, tc.target, diags)
			continue
		}
		t.Logf("%s", diags[0].Detail)
	}
	for _, tc := range []struct{ source, target string }{
		{"r.example/demo/lin:1.0", "r.example/mirror/lin"},
		{"r.example/demo/lin:1.0", "r.example/demo/lin:1.0-mirror"},
		{"r.example/demo/lin@sha256:" + strings.Repeat("a", 64), "r.example/demo/lin"}, // filter: a new index
	} {
		mode := ""
		if strings.Contains(tc.source, "@") {
			mode = "filter"
		}
		if diags := validate(tc.source, tc.target, mode); len(diags) != 0 {
			t.Errorf("source %q, target %q: %+v, want no diagnostics", tc.source, tc.target, diags)
		}
	}
}

func TestAccImageMirror_targetIsSourceRefused(t *testing.T) {
	t.Parallel()
	src := registrytest.Start(t)
	proxy := registrytest.NewProxy(t, src)
	pushHandWrittenIndex(t, src, "demo/lin:1.0", types.OCIImageIndex)
	config := func(target string) string {
		return hostsConfig(proxy.Host) + fmt.Sprintf("resource \"zarf_image_mirror\" \"test\" {\n  source = %q\n  target = %q\n}\n",
			proxy.Ref("demo/lin:1.0"), target)
	}
	refused := regexp.MustCompile(`(?s)Target is the source.*` + regexp.QuoteMeta(proxy.Ref("demo/lin:1.0")))
	noRequest := func() {
		if n := len(proxy.Counts()); n != 0 {
			t.Errorf("the refused configuration sent requests: %v", proxy.Counts())
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{Config: config(proxy.Ref("demo/lin:1.0")), ExpectError: refused, PreConfig: proxy.Reset},
			{Config: config(proxy.Ref("demo/lin")), ExpectError: refused, PreConfig: noRequest},
		},
		CheckDestroy: func(*terraform.State) error {
			noRequest()
			return nil
		},
	})
}

func TestAccImageMirror_targetRewriteIsNotReplacement(t *testing.T) {
	t.Parallel()
	src, dst := registrytest.Start(t), registrytest.Start(t)
	dstProxy := registrytest.NewProxy(t, dst)
	raw := pushHandWrittenIndex(t, src, "app/lin:1.0", types.OCIImageIndex)
	config := func(target string) string {
		return hostsConfig(src.Host, dstProxy.Host) + fmt.Sprintf(`resource "zarf_image_mirror" "test" {
  source = %q
  target = %q
  lifecycle {
    create_before_destroy = true
  }
}
`, src.Ref("app/lin:1.0"), target)
	}
	kept := targetExists(t, dst.Ref("cbd/lin:1.0"), dst.Ref("cbd/lin@"+sha256Of(raw)))
	rewrite := func(target string) resource.TestStep {
		return resource.TestStep{
			PreConfig: dstProxy.Reset,
			Config:    config(target),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(mirrorAddr, plancheck.ResourceActionUpdate),
			}},
			Check: resource.ComposeTestCheckFunc(kept, func(*terraform.State) error {
				for call, n := range dstProxy.Counts() {
					if call.Method != http.MethodGet && call.Method != http.MethodHead && n > 0 {
						return fmt.Errorf("rewriting target sent %d %s %s requests to the target", n, call.Method, call.Kind)
					}
				}
				return nil
			}),
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{Config: config(dstProxy.Ref("cbd/lin")), Check: kept},
			rewrite(dstProxy.Ref("cbd/lin:1.0")),
			rewrite(dstProxy.Ref("cbd/lin")),
		},
	})
}

// TestAccImageMirror_replacementOntoSameTagKeepsMirror: a replacement with create_before_destroy
// whose new mirror writes what the old one wrote (here forced by replace_triggered_by) keeps the
// tag and the manifest: the old mirror's destroy leaves them to the new one.
func TestAccImageMirror_replacementOntoSameTagKeepsMirror(t *testing.T) {
	t.Parallel()
	src, dst := registrytest.Start(t), registrytest.Start(t)
	raw := pushHandWrittenIndex(t, src, "app/lin:1.0", types.OCIImageIndex)
	config := func(trigger int) string {
		return providerConfig(src, dst) + fmt.Sprintf(`resource "terraform_data" "trigger" {
  input = %d
}
resource "zarf_image_mirror" "test" {
  source = %q
  target = %q
  lifecycle {
    create_before_destroy = true
    replace_triggered_by  = [terraform_data.trigger]
  }
}
`, trigger, src.Ref("app/lin:1.0"), dst.Ref("cbd/lin"))
	}
	kept := targetExists(t, dst.Ref("cbd/lin:1.0"), dst.Ref("cbd/lin@"+sha256Of(raw)))
	replace := func(trigger int) resource.TestStep {
		return resource.TestStep{
			Config: config(trigger),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(mirrorAddr, plancheck.ResourceActionCreateBeforeDestroy),
			}},
			Check: kept,
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps:                    []resource.TestStep{{Config: config(0), Check: kept}, replace(1), replace(2)},
	})
}

// TestAccImageMirror_forEachRenameKeepsMirror renames the for_each keys of four mirrors at every
// step, without a moved block: Terraform destroys the old instances and creates the new ones,
// which write what the old ones wrote, concurrently and in any order. The mirrors must survive
// every step. A destroy lists the tags of the repository before it deletes; the target is behind
// a proxy that delays that listing, so that the creates of the same step run in the middle of
// the destroys, the interleaving that lost about one mirror in five on a quiet machine.
func TestAccImageMirror_forEachRenameKeepsMirror(t *testing.T) {
	t.Parallel()
	const mirrors, renames = 4, 4
	src, dst := registrytest.Start(t), registrytest.Start(t)
	dstProxy := registrytest.NewProxy(t, dst)
	dstProxy.AddFault(registrytest.Fault{Method: http.MethodGet, Path: "/tags/list$", Action: registrytest.FaultDelay, Delay: time.Second})
	raw := pushHandWrittenIndex(t, src, "app/lin:1.0", types.OCIImageIndex)
	var refs []string
	for i := range mirrors {
		refs = append(refs, dst.Ref(fmt.Sprintf("fe/r%d:1.0", i)), dst.Ref(fmt.Sprintf("fe/r%d@%s", i, sha256Of(raw))))
	}
	config := func(step int) string {
		return hostsConfig(src.Host, dstProxy.Host) + fmt.Sprintf(`resource "zarf_image_mirror" "m" {
  for_each = { for i in range(%d) : "step%d-${i}" => i }
  source   = %q
  target   = "%s/fe/r${each.value}"
}
`, mirrors, step, src.Ref("app/lin:1.0"), dstProxy.Host)
	}
	survived := []statecheck.StateCheck{stateFuncCheck(targetExists(t, refs...))}
	steps := []resource.TestStep{{Config: config(0), ConfigStateChecks: survived}}
	for step := 1; step <= renames; step++ {
		steps = append(steps, resource.TestStep{
			Config: config(step),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(fmt.Sprintf(`zarf_image_mirror.m["step%d-0"]`, step-1), plancheck.ResourceActionDestroy),
				plancheck.ExpectResourceAction(fmt.Sprintf(`zarf_image_mirror.m["step%d-0"]`, step), plancheck.ResourceActionCreate),
			}},
			ConfigStateChecks: survived,
		})
	}
	// The harness cannot read a state with for_each keys once the steps are done: leave none.
	steps = append(steps, resource.TestStep{Config: hostsConfig(src.Host, dstProxy.Host)})
	resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: testProviders, Steps: steps})
}

func TestAccImageMirror_twoMirrorsOneTagRefused(t *testing.T) {
	t.Parallel()
	src, dst := registrytest.Start(t), registrytest.Start(t)
	pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	registrytest.PushIndex(t, src.Ref("app/api:1.0"), registrytest.IndexSpec{Images: testImages[:1]})
	config := func(second string) string {
		return providerConfig(src, dst) + fmt.Sprintf(`resource "zarf_image_mirror" "web" {
  source = %q
  target = %q
}
resource "zarf_image_mirror" "second" {
  source = %q
  target = %q
}
`, src.Ref("app/web:1.0"), dst.Ref("mirror/app"), second, dst.Ref("mirror/app"))
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				// Both write mirror/app:1.0; whichever is planned second names both sources.
				Config: config(src.Ref("app/api:1.0")),
				ExpectError: regexp.MustCompile(`(?s)Two mirrors write one target tag.*` + regexp.QuoteMeta(dst.Ref("mirror/app:1.0")) +
					`.*(` + regexp.QuoteMeta(src.Ref("app/web:1.0")) + `.*` + regexp.QuoteMeta(src.Ref("app/api:1.0")) + `|` +
					regexp.QuoteMeta(src.Ref("app/api:1.0")) + `.*` + regexp.QuoteMeta(src.Ref("app/web:1.0")) + `)`),
			},
			{
				// The same content twice is no conflict: both plans agree, nothing flip-flops.
				Config: config(src.Ref("app/web:1.0")),
				Check:  targetExists(t, dst.Ref("mirror/app:1.0")),
			},
		},
	})
}

func TestModifyPlan_samePlanTwiceIsNoConflict(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t)
	registrytest.PushIndex(t, reg.Ref("app/web:1.0"), registrytest.IndexSpec{Images: testImages[:2]})
	registrytest.PushIndex(t, reg.Ref("app/api:1.0"), registrytest.IndexSpec{Images: testImages[2:]})
	r := testResource(t, reg.Host) // one provider process: Terraform plans again during apply
	web := planModel(t, reg.Ref("app/web:1.0"), reg.Ref("mirror/app"), nil, mirror.ModePreserve)
	for range 2 {
		if resp, _ := modifyPlan(t, r, web, nil); resp.Diagnostics.HasError() {
			t.Fatalf("the same mirror planned again: %v", diagTexts(resp.Diagnostics))
		}
	}
	api := planModel(t, reg.Ref("app/api:1.0"), reg.Ref("mirror/app:1.0"), nil, mirror.ModePreserve)
	resp, _ := modifyPlan(t, r, api, nil)
	errs := resp.Diagnostics.Errors()
	if len(errs) != 1 {
		t.Fatalf("another source on the same tag: %v, want one error", diagTexts(resp.Diagnostics))
	}
	mustContain(t, diagTexts(errs)[0], reg.Ref("mirror/app:1.0"), reg.Ref("app/web:1.0"), reg.Ref("app/api:1.0"))
	if p := errs[0].(interface{ Path() path.Path }).Path(); !p.Equal(path.Root("target")) {
		t.Errorf("the error is about %s, want target", p)
	}
}

// TestAccImageMirror_targetCheckedBeforeReplacement changes target to places that cannot take
// the mirror: each plan fails on target, and the old mirror is still there.
func TestAccImageMirror_targetCheckedBeforeReplacement(t *testing.T) {
	t.Parallel()
	src, dst := registrytest.Start(t), registrytest.Start(t)
	unlisted := registrytest.NewProxy(t, dst) // plain HTTP, not in insecure_registries
	locked := registrytest.Start(t, registrytest.WithBasicAuth("ci", "s3cret"))
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	unreachable := closed.Addr().String()
	closed.Close()
	raw := pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	config := func(target string) string {
		return fmt.Sprintf(`provider "zarf" {
  insecure_registries = [%q, %q, %q, %q]
  registry_auth {
    address  = %q
    username = "ci"
    password = "wrong"
  }
}
resource "zarf_image_mirror" "test" {
  source = %q
  target = %q
}
`, src.Host, dst.Host, locked.Host, unreachable, locked.Host, src.Ref("app/web:1.0"), target)
	}
	refused := func(target, why string) resource.TestStep {
		return resource.TestStep{
			Config:      config(target),
			ExpectError: regexp.MustCompile(`(?s)Cannot write the mirror to\s+` + regexp.QuoteMeta(target) + `.*` + why),
		}
	}
	intact := targetExists(t, dst.Ref("mirror/web:1.0"), dst.Ref("mirror/web@"+sha256Of(raw)))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{Config: config(dst.Ref("mirror/web")), Check: intact},
			refused(unreachable+"/mirror/web", `registry\s+`+regexp.QuoteMeta(unreachable)+`\s+is\s+unreachable`),
			refused(unlisted.Ref("mirror/web"), `not\s+listed\s+in\s+insecure_registries`),
			refused(locked.Ref("mirror/web"), `refused\s+access\s+to\s+repository\s+"mirror/web"\s+with\s+credentials\s+from\s+registry_auth`),
			{
				Config:           config(dst.Ref("mirror/web")),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check:            intact,
			},
		},
	})
}

// TestAccImageMirror_sourceGoneWhenSomethingIsToCopy: a source that is gone keeps an existing
// mirror as it is, but a plan that needs the source (another selection) still fails.
func TestAccImageMirror_sourceGoneWhenSomethingIsToCopy(t *testing.T) {
	t.Parallel()
	src, dst := registrytest.Start(t), registrytest.Start(t)
	raw := pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	config := func(extra string) string {
		return mirrorConfig(fmt.Sprintf("source = %q\ntarget = %q\n%s", src.Ref("app/web:1.0"), dst.Ref("mirror/web"), extra), src, dst)
	}
	intact := targetExists(t, dst.Ref("mirror/web:1.0"), dst.Ref("mirror/web@"+sha256Of(raw)))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{Config: config(""), Check: intact},
			{
				PreConfig:        func() { registrytest.Delete(t, src.Ref("app/web@"+sha256Of(raw))) },
				Config:           config(""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check:            intact,
			},
			{
				Config:      config(`platforms = ["linux/amd64"]`),
				ExpectError: regexp.MustCompile(`(?s)Cannot plan the mirror of.*not\s+found\s+in\s+registry\s+` + regexp.QuoteMeta(src.Host)),
			},
		},
	})
}

// TestAccImageMirror_sourceGoneKeepsMirror runs terraform as a user does while the source of
// two existing mirrors is gone: first the tag deleted upstream, then the source registry stopped
// (one mirror reads the source through a counting proxy, the other directly). Every plan warns
// and exits 0 while the targets are intact, and destroy works. The destroy itself sends no
// request to the source; `terraform destroy` first plans the configuration as a normal plan
// would (Terraform's refresh before a destroy), which is where its one source request comes
// from.
func TestAccImageMirror_sourceGoneKeepsMirror(t *testing.T) {
	tf := newTerraformCLI(t)
	t.Parallel()
	src, dst := registrytest.Start(t), registrytest.Start(t)
	proxy := registrytest.NewProxy(t, src)
	raw := pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	digest := sha256Of(raw)
	work := t.TempDir()
	writeFile(t, work+"/main.tf", fmt.Sprintf(`terraform {
  required_providers {
    zarf = { source = "zarf-dev/zarf" }
  }
}
provider "zarf" {
  max_retries         = 0
  insecure_registries = [%q, %q, %q]
}
resource "zarf_image_mirror" "counted" {
  source = %q
  target = %q
}
resource "zarf_image_mirror" "direct" {
  source = %q
  target = %q
}
`, proxy.Host, src.Host, dst.Host, proxy.Ref("app/web:1.0"), dst.Ref("counted/web"), src.Ref("app/web:1.0"), dst.Ref("direct/web")))
	targets := []string{dst.Ref("counted/web:1.0"), dst.Ref("direct/web:1.0"), dst.Ref("counted/web@" + digest), dst.Ref("direct/web@" + digest)}
	terraform := func(want int, args ...string) string {
		t.Helper()
		return tf.expect(t, work, want, args...)
	}
	present := func(want bool) {
		t.Helper()
		for _, ref := range targets {
			if registrytest.Exists(t, ref) != want {
				t.Fatalf("%s exists = %v, want %v", ref, !want, want)
			}
		}
	}
	kept := "the mirror is kept as it is"
	destroyed := func(out string) {
		t.Helper()
		says(t, out, "2 destroyed.")
		present(false)
	}
	terraform(0, "apply", "-auto-approve")
	present(true)

	// The tag is deleted upstream (and with it, the index).
	registrytest.Delete(t, src.Ref("app/web@"+digest))
	says(t, terraform(0, "plan", "-detailed-exitcode"), "Warning: Source could not be checked",
		"The source could not be checked", "was not found in registry "+proxy.Host, kept, "No changes.")
	says(t, terraform(0, "plan", "-refresh=false", "-detailed-exitcode"), "Source could not be checked", kept, "No changes.")
	says(t, terraform(0, "plan", "-destroy"), "2 to destroy")
	terraform(0, "plan", "-destroy", "-out=destroy.tfplan")
	proxy.Reset()
	destroyed(terraform(0, "apply", "destroy.tfplan"))
	if n := len(proxy.Counts()); n != 0 {
		t.Fatalf("the destroy sent requests to the source: %v", proxy.Counts())
	}

	// The source registry is stopped.
	pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	terraform(0, "apply", "-auto-approve")
	present(true)
	src.Stop()
	// JSON, for both warnings: the human output folds warnings with one summary into one.
	says(t, terraform(0, "plan", "-detailed-exitcode", "-json"), "Source could not be checked",
		"registry "+src.Host+" is unreachable", "registry "+proxy.Host+" is unavailable", kept)
	says(t, terraform(0, "plan", "-refresh=false", "-detailed-exitcode"), "Source could not be checked", kept, "No changes.")
	says(t, terraform(0, "plan", "-destroy"), "2 to destroy")
	destroyed(terraform(0, "destroy", "-auto-approve"))
}
