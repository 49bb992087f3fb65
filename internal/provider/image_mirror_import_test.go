package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"
	fwresource "github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"

	"github.com/zarf-dev/terraform-provider-zarf/internal/mirror"
	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
)

// importForms are the ways of writing the target in the configuration and in the import ID.
var importForms = []struct {
	name   string
	target func(dst *registrytest.Registry, digest string) string
	bare   bool // a repository without tag or digest: importable only with the source
	// unknown lists what an import without the source cannot recover besides source itself:
	// with repo@digest, the tag that the source's tag gives (so ref lacks it).
	unknown []string
}{
	{name: "repo:tag", target: func(dst *registrytest.Registry, _ string) string { return dst.Ref("mirror/web:1.0") }},
	{name: "repo@digest", target: func(dst *registrytest.Registry, d string) string { return dst.Ref("mirror/web@" + d) }, unknown: []string{"ref"}},
	{name: "repo", target: func(dst *registrytest.Registry, _ string) string { return dst.Ref("mirror/web") }, bare: true},
}

// TestAccImageMirror_importWithSource imports "<target>,<source>": the imported state equals
// the applied one, and a plan with an import block is empty (the target holds what the source
// gives with default arguments).
func TestAccImageMirror_importWithSource(t *testing.T) {
	for _, form := range importForms {
		t.Run(form.name, func(t *testing.T) {
			src, dst := registrytest.Start(t), registrytest.Start(t)
			raw := pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
			target := form.target(dst, sha256Of(raw))
			config := mirrorConfig(fmt.Sprintf("source = %q\ntarget = %q", src.Ref("app/web:1.0"), target), src, dst)
			id := target + "," + src.Ref("app/web:1.0")
			resource.ParallelTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviders,
				Steps: []resource.TestStep{
					{Config: config},
					{
						Config:            config,
						ResourceName:      mirrorAddr,
						ImportState:       true,
						ImportStateId:     id,
						ImportStateVerify: true,
					},
					{
						Config:           config,
						ResourceName:     mirrorAddr,
						ImportState:      true,
						ImportStateKind:  resource.ImportBlockWithID,
						ImportStateId:    id,
						ImportPlanChecks: resource.ImportPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
					},
				},
			})
		})
	}
}

// TestAccImageMirror_importTargetOnly imports "<target>": everything but source is recovered
// from the target, and a plan with an import block only sets source.
func TestAccImageMirror_importTargetOnly(t *testing.T) {
	for _, form := range importForms {
		if form.bare {
			continue // TestAccImageMirror_importBadID
		}
		t.Run(form.name, func(t *testing.T) {
			src, dst := registrytest.Start(t), registrytest.Start(t)
			raw := pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
			target := form.target(dst, sha256Of(raw))
			config := mirrorConfig(fmt.Sprintf("source = %q\ntarget = %q", src.Ref("app/web:1.0"), target), src, dst)
			resource.ParallelTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviders,
				Steps: []resource.TestStep{
					{Config: config},
					{
						Config:                  config,
						ResourceName:            mirrorAddr,
						ImportState:             true,
						ImportStateId:           target,
						ImportStateVerify:       true,
						ImportStateVerifyIgnore: append([]string{"source"}, form.unknown...),
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
							// Of the arguments, only source changes.
							expectPlanChangesOnly(mirrorAddr, append(form.unknown, "source")...),
						}},
					},
				},
			})
		})
	}
}

func TestAccImageMirror_importBadID(t *testing.T) {
	t.Parallel()
	src, dst := registrytest.Start(t), registrytest.Start(t)
	pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	config := mirrorConfig(fmt.Sprintf("source = %q\ntarget = %q", src.Ref("app/web:1.0"), dst.Ref("mirror/web")), src, dst)
	// step expects the import of id to fail with these phrases, in order (Terraform wraps lines).
	step := func(id string, phrases ...string) resource.TestStep {
		var parts []string
		for _, p := range phrases {
			parts = append(parts, strings.Join(strings.Fields(regexp.QuoteMeta(p)), `\s+`))
		}
		return resource.TestStep{
			Config:        config,
			ResourceName:  mirrorAddr,
			ImportState:   true,
			ImportStateId: id,
			ExpectError:   regexp.MustCompile(`(?s)` + strings.Join(parts, ".*")),
		}
	}
	invalid, usage := "Invalid import ID", "Use <target> or <target>,<source>"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			step(dst.Ref("mirror/web:1.0,a,b"), invalid, "it has 3 comma-separated parts", usage),
			step(" ,"+src.Ref("app/web:1.0"), invalid, "the target is empty", usage),
			step(dst.Ref("mirror/web:1.0,"), invalid, "the source after the comma is empty", usage),
			step(dst.Ref("mirror/web"), invalid, "without a source, the target must name what to import", usage),
			step(dst.Ref("mirror/web@sha256:abc"), invalid, `is not sha256:<64 hex digits>`, usage),
			step(dst.Ref("mirror/web:1.0,")+"https://"+src.Ref("app/web:1.0"), invalid, "source", "without a scheme", usage),
			// Well-formed, but nothing is there.
			step(dst.Ref("mirror/web:1.0"), "Cannot import non-existent remote object"),
			step(dst.Ref("mirror/web:1.0,")+src.Ref("app/web:1.0"), "Cannot import non-existent remote object"),
		},
	})
}

func TestParseImportID(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		id, target, source, err string
	}{
		{id: "r.example/a/b:1", target: "r.example/a/b:1"},
		{id: " r.example/a/b@sha256:1 , nginx:1.27 ", target: "r.example/a/b@sha256:1", source: "nginx:1.27"},
		{id: "", err: "the target is empty"},
		{id: ",nginx", err: "the target is empty"},
		{id: "a,", err: "the source after the comma is empty"},
		{id: "a,b,c", err: "3 comma-separated parts"},
	} {
		target, source, err := parseImportID(c.id)
		if c.err != "" {
			if err == nil || !regexp.MustCompile(regexp.QuoteMeta(c.err)).MatchString(err.Error()) {
				t.Errorf("parseImportID(%q) = %v, want an error with %q", c.id, err, c.err)
			}
			continue
		}
		if err != nil || target != c.target || source != c.source {
			t.Errorf("parseImportID(%q) = %q, %q, %v; want %q, %q", c.id, target, source, err, c.target, c.source)
		}
	}
	r := &imageMirrorResource{engine: mirror.New()}
	for _, c := range []struct{ target, source, err string }{
		{target: "r.example/a/b:1"},
		{target: "r.example/a/b@sha256:" + fmt.Sprintf("%064d", 0)},
		{target: "r.example/a/b", source: "nginx"},
		{target: "r.example/a/b", err: "without a source"},
		{target: "r.example/a/B:1", err: `target "r.example/a/B:1"`},
		{target: "r.example/a/b:1", source: "nginx@sha256:12", err: `source "nginx@sha256:12"`},
	} {
		err := r.checkImport(c.target, c.source)
		if (c.err == "") != (err == nil) || (err != nil && !regexp.MustCompile(regexp.QuoteMeta(c.err)).MatchString(err.Error())) {
			t.Errorf("checkImport(%q, %q) = %v, want error %q", c.target, c.source, err, c.err)
		}
	}
}

// filteredMirror applies, with the engine, a filter mirror of two of testImages from src to
// dst's mirror/web:1.0, and returns the source reference and the target as configured.
func filteredMirror(t *testing.T, src, dst *registrytest.Registry) (source, target string) {
	t.Helper()
	pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	source, target = src.Ref("app/web:1.0"), dst.Ref("mirror/web")
	r := testResource(t, src.Host, dst.Host)
	p, err := r.engine.Plan(t.Context(), mirror.Spec{Source: source, Target: target, Platforms: []string{"linux/amd64", "linux/arm64"},
		IndexMode: mirror.ModeFilter, Attestations: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.engine.Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	return source, target
}

// TestRead_importOfFilteredMirror: importing "<target>,<source>" of a filter mirror (made with
// other arguments than the defaults) reads what the target holds without reporting it as drift:
// no warning that the tag points elsewhere or that anything is gone.
func TestRead_importOfFilteredMirror(t *testing.T) {
	t.Parallel()
	src, dst := registrytest.Start(t), registrytest.Start(t)
	source, target := filteredMirror(t, src, dst)
	filtered, _ := registrytest.Fetch(t, dst.Ref("mirror/web:1.0"))
	r := testResource(t, src.Host, dst.Host)
	ctx := context.Background()

	var sr fwresource.SchemaResponse
	r.Schema(ctx, fwresource.SchemaRequest{}, &sr)
	state := tfsdk.State{Schema: sr.Schema, Raw: tftypes.NewValue(sr.Schema.Type().TerraformType(ctx), nil)}
	var ir fwresource.ImportStateResponse
	ir.State = state
	r.ImportState(ctx, fwresource.ImportStateRequest{ID: target + "," + source}, &ir)
	if ir.Diagnostics.HasError() {
		t.Fatal(diagTexts(ir.Diagnostics))
	}
	req := fwresource.ReadRequest{State: ir.State}
	resp := &fwresource.ReadResponse{State: ir.State}
	resp.Private = newPrivateState(t, req.Private)
	r.Read(ctx, req, resp)
	if len(resp.Diagnostics) != 0 {
		t.Errorf("diagnostics after importing a correct filter mirror: %v", diagTexts(resp.Diagnostics))
	}
	var got imageMirrorModel
	if d := resp.State.Get(ctx, &got); d.HasError() || resp.State.Raw.IsNull() {
		t.Fatalf("state %v: %v", resp.State.Raw, d)
	}
	if got.Digest.ValueString() != sha256Of(filtered) || len(got.Manifests.Elements()) != 2 {
		t.Errorf("imported digest %v with %d manifests, want the target's %s with 2", got.Digest, len(got.Manifests.Elements()), sha256Of(filtered))
	}
}

// TestAccImageMirror_importFilteredWithSource: after importing a filter mirror with its source,
// the plan only sets the arguments an import ID cannot carry (index_mode, platforms): what the
// target holds is what the configuration gives.
func TestAccImageMirror_importFilteredWithSource(t *testing.T) {
	t.Parallel()
	src, dst := registrytest.Start(t), registrytest.Start(t)
	source, target := filteredMirror(t, src, dst)
	config := mirrorConfig(fmt.Sprintf("source = %q\ntarget = %q\nplatforms = [\"linux/amd64\", \"linux/arm64\"]\nindex_mode = \"filter\"",
		source, target), src, dst)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config:             config,
			ResourceName:       mirrorAddr,
			ImportState:        true,
			ImportStateKind:    resource.ImportBlockWithID,
			ImportStateId:      target + "," + source,
			ExpectNonEmptyPlan: true,
			ImportPlanChecks: resource.ImportPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(mirrorAddr, plancheck.ResourceActionUpdate),
				expectPlanChangesOnly(mirrorAddr, "index_mode", "platforms"),
			}},
		}},
	})
}
