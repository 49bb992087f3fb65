package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/types"
	tfjson "github.com/hashicorp/terraform-json"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	fwresource "github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	fwtypes "github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/zarf-dev/terraform-provider-zarf/internal/mirror"
	"github.com/zarf-dev/terraform-provider-zarf/internal/registry"
	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
)

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

// testResource is a zarf_image_mirror whose engine reaches the given hosts over plain HTTP,
// anonymously.
func testResource(t *testing.T, hosts ...string) *imageMirrorResource {
	t.Helper()
	c, err := registry.New(registry.Config{InsecureRegistries: hosts, Keychain: authn.NewMultiKeychain()})
	if err != nil {
		t.Fatal(err)
	}
	return &imageMirrorResource{engine: mirror.New(mirror.WithScheme(c))}
}

// contentSize computes, from what the registry serves and without the engine, the bytes of
// distinct content a full mirror of ref holds: every manifest and index, every config and
// layer blob, each distinct digest once.
func contentSize(t *testing.T, ref string) int64 {
	t.Helper()
	repo := ref
	if i := strings.LastIndex(repo, "@"); i >= 0 {
		repo = repo[:i]
	} else if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	sizes := map[string]int64{}
	var visit func(ref string)
	visit = func(ref string) {
		raw, _ := registrytest.Fetch(t, ref)
		sizes[sha256Of(raw)] = int64(len(raw))
		var doc struct {
			Manifests []struct {
				Digest string `json:"digest"`
			} `json:"manifests"`
			Config *struct {
				Digest string `json:"digest"`
				Size   int64  `json:"size"`
			} `json:"config"`
			Layers []struct {
				Digest string `json:"digest"`
				Size   int64  `json:"size"`
			} `json:"layers"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s does not parse: %v", ref, err)
		}
		for _, m := range doc.Manifests {
			visit(repo + "@" + m.Digest)
		}
		if doc.Config != nil {
			sizes[doc.Config.Digest] = doc.Config.Size
		}
		for _, l := range doc.Layers {
			sizes[l.Digest] = l.Size
		}
	}
	visit(ref)
	var total int64
	for _, s := range sizes {
		total += s
	}
	return total
}

// expectedManifests are the checks of the manifests attribute for a mirror of every platform
// of the index raw: its image entries (attestations left out), in index order.
func expectedManifests(t *testing.T, raw []byte) []knownvalue.Check {
	t.Helper()
	var idx struct {
		Manifests []struct {
			MediaType string `json:"mediaType"`
			Digest    string `json:"digest"`
			Size      int64  `json:"size"`
			Platform  struct {
				OS           string `json:"os"`
				Architecture string `json:"architecture"`
				Variant      string `json:"variant"`
			} `json:"platform"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	var checks []knownvalue.Check
	for _, m := range idx.Manifests {
		if m.Platform.OS == "unknown" {
			continue
		}
		platform := m.Platform.OS + "/" + m.Platform.Architecture
		if m.Platform.Variant != "" {
			platform += "/" + m.Platform.Variant
		}
		checks = append(checks, knownvalue.ObjectExact(map[string]knownvalue.Check{
			"platform":   knownvalue.StringExact(platform),
			"digest":     knownvalue.StringExact(m.Digest),
			"media_type": knownvalue.StringExact(m.MediaType),
			"size":       knownvalue.Int64Exact(m.Size),
		}))
	}
	return checks
}

// expectRequests fails unless the proxy counted exactly these requests of each call (calls not
// listed are not checked).
func expectRequests(t *testing.T, proxy *registrytest.Proxy, want map[registrytest.Call]int) error {
	t.Helper()
	counts := proxy.Counts()
	t.Logf("requests at %s: %v", proxy.Host, counts)
	for call, n := range want {
		if counts[call] != n {
			return fmt.Errorf("%s %s requests: got %d, want %d (all counts: %v)", call.Method, call.Kind, counts[call], n, counts)
		}
	}
	return nil
}

var (
	headManifest = registrytest.Call{Method: http.MethodHead, Kind: registrytest.KindManifest}
	getManifest  = registrytest.Call{Method: http.MethodGet, Kind: registrytest.KindManifest}
	getBlob      = registrytest.Call{Method: http.MethodGet, Kind: registrytest.KindBlob}
	headBlob     = registrytest.Call{Method: http.MethodHead, Kind: registrytest.KindBlob}
)

// planModel is the plan Terraform hands to ModifyPlan for a configuration: defaults applied,
// computed attributes unknown.
func planModel(t *testing.T, source, target string, platforms []string, mode mirror.IndexMode) imageMirrorModel {
	t.Helper()
	m := imageMirrorModel{
		Source:       fwtypes.StringValue(source),
		Target:       fwtypes.StringValue(target),
		Platforms:    fwtypes.SetNull(fwtypes.StringType),
		IndexMode:    fwtypes.StringValue(string(mode)),
		Attestations: fwtypes.BoolValue(true),
		MaxBytes:     fwtypes.Int64Null(),
		KeepRemotely: fwtypes.BoolValue(false),
		Verify:       fwtypes.ListNull(verifyBlockSchema().NestedObject.Type()),
	}
	if platforms != nil {
		var d diag.Diagnostics
		m.Platforms, d = fwtypes.SetValueFrom(context.Background(), fwtypes.StringType, platforms)
		if d.HasError() {
			t.Fatal(d)
		}
	}
	m.setUnknownComputed()
	return m
}

// modifyPlan calls ModifyPlan as the framework does: the plan (and the configuration, the same
// values) from model, the prior state from state (nil for a create), no private state.
func modifyPlan(t *testing.T, r *imageMirrorResource, model imageMirrorModel, state *imageMirrorModel) (*fwresource.ModifyPlanResponse, imageMirrorModel) {
	t.Helper()
	return modifyPlanWithRecord(t, r, model, state, nil)
}

// modifyPlanAfterApply calls ModifyPlan for model with the state and private state that an
// apply of rec leaves.
func modifyPlanAfterApply(t *testing.T, r *imageMirrorResource, model imageMirrorModel, rec mirror.Record) *fwresource.ModifyPlanResponse {
	t.Helper()
	state := model
	if d := state.setComputed(rec); d.HasError() {
		t.Fatal(d)
	}
	resp, _ := modifyPlanWithRecord(t, r, model, &state, &rec)
	return resp
}

// modifyPlanWithRecord is modifyPlan with rec, when not nil, in the private state.
func modifyPlanWithRecord(t *testing.T, r *imageMirrorResource, model imageMirrorModel, state *imageMirrorModel, rec *mirror.Record) (*fwresource.ModifyPlanResponse, imageMirrorModel) {
	t.Helper()
	ctx := context.Background()
	var sr fwresource.SchemaResponse
	r.Schema(ctx, fwresource.SchemaRequest{}, &sr)
	s := sr.Schema
	null := tftypes.NewValue(s.Type().TerraformType(ctx), nil)
	plan := tfsdk.Plan{Schema: s, Raw: null}
	if d := plan.Set(ctx, &model); d.HasError() {
		t.Fatalf("building the plan: %v", d)
	}
	st := tfsdk.State{Schema: s, Raw: null}
	if state != nil {
		if d := st.Set(ctx, state); d.HasError() {
			t.Fatalf("building the state: %v", d)
		}
	}
	req := fwresource.ModifyPlanRequest{Config: tfsdk.Config{Schema: s, Raw: plan.Raw}, Plan: plan, State: st}
	if rec != nil {
		req.Private = newPrivateState(t, req.Private)
		if d := saveRecord(ctx, req.Private, *rec); d.HasError() {
			t.Fatal(d)
		}
	}
	resp := &fwresource.ModifyPlanResponse{Plan: plan}
	r.ModifyPlan(ctx, req, resp)
	var out imageMirrorModel
	if d := resp.Plan.Get(ctx, &out); d.HasError() {
		t.Fatalf("reading the modified plan: %v", d)
	}
	return resp, out
}

// newPrivateState returns an empty private state of the type of like (the framework's type is
// internal, so it is made by reflection), as the framework hands one to Read and ModifyPlan.
func newPrivateState[P any](t *testing.T, like P) P {
	t.Helper()
	typ := reflect.TypeOf(like)
	if typ == nil || typ.Kind() != reflect.Pointer {
		t.Fatalf("private state type %v is not a pointer", typ)
	}
	return reflect.New(typ.Elem()).Interface().(P)
}

// diagTexts formats diagnostics as "summary: detail", one per element.
func diagTexts(ds diag.Diagnostics) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Summary() + ": " + d.Detail()
	}
	return out
}

func mustContain(t *testing.T, text string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(text, p) {
			t.Errorf("%q does not contain %q", text, p)
		}
	}
}

// sixteenPlatforms are the images of a source as large as nginx:latest in platform count.
var sixteenPlatforms = func() []registrytest.ImageSpec {
	platforms := []string{
		"linux/amd64", "linux/arm64/v8", "linux/arm/v7", "linux/arm/v6", "linux/386", "linux/ppc64le",
		"linux/s390x", "linux/riscv64", "linux/mips64le", "linux/loong64", "windows/amd64", "windows/arm64",
		"freebsd/amd64", "darwin/amd64", "darwin/arm64", "linux/mips64",
	}
	specs := make([]registrytest.ImageSpec, len(platforms))
	for i, p := range platforms {
		specs[i] = registrytest.ImageSpec{Platform: p, Layers: []int64{int64(700 + 100*i)}, Seed: int64(i)}
	}
	return specs
}()

// ---------------------------------------------------------------------------------------------
// Cost: one HEAD when nothing changed
// ---------------------------------------------------------------------------------------------

func TestPlanRecord_unchangedSourceCostsOneHead(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t)
	proxy := registrytest.NewProxy(t, reg)
	registrytest.PushIndex(t, reg.Ref("app/web:1.0"), registrytest.IndexSpec{Images: testImages, Attestations: true})
	r := testResource(t, proxy.Host, reg.Host)
	ctx := context.Background()
	spec := mirror.Spec{Source: proxy.Ref("app/web:1.0"), Target: reg.Ref("mirror/web"), IndexMode: mirror.ModePreserve, Attestations: true}

	first, inspected, err := r.engine.Replan(ctx, spec, nil)
	if err != nil || !inspected {
		t.Fatalf("first plan: inspected = %v, err = %v", inspected, err)
	}
	t.Logf("first plan (no prior record): %v", proxy.Counts())

	t.Run("unchanged", func(t *testing.T) {
		proxy.Reset()
		rec, inspected, err := r.engine.Replan(ctx, spec, &first)
		if err != nil {
			t.Fatal(err)
		}
		if inspected {
			t.Error("an unchanged source was inspected again")
		}
		if rec.Digest != first.Digest || rec.Size != first.Size || rec.Ref() != first.Ref() || len(rec.Manifests) != len(first.Manifests) {
			t.Errorf("the reused record differs: %+v, want %+v", rec, first)
		}
		if err := expectRequests(t, proxy, map[registrytest.Call]int{headManifest: 1, getManifest: 0, getBlob: 0, headBlob: 0}); err != nil {
			t.Error(err)
		}
	})

	t.Run("max_bytes checked without reading", func(t *testing.T) {
		proxy.Reset()
		small := spec
		small.MaxBytes = first.Size - 1
		_, _, err := r.engine.Replan(ctx, small, &first)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprint(first.Size)) {
			t.Errorf("err = %v, want max_bytes exceeded with %d", err, first.Size)
		}
		if err := expectRequests(t, proxy, map[registrytest.Call]int{headManifest: 1, getManifest: 0}); err != nil {
			t.Error(err)
		}
	})

	t.Run("selection changed", func(t *testing.T) {
		proxy.Reset()
		narrow := spec
		narrow.Platforms = []string{"linux/amd64"}
		rec, inspected, err := r.engine.Replan(ctx, narrow, &first)
		if err != nil || !inspected {
			t.Fatalf("inspected = %v, err = %v", inspected, err)
		}
		if len(rec.Manifests) != 1 || !rec.Sparse {
			t.Errorf("record %+v, want one sparse platform", rec)
		}
		if proxy.Count(http.MethodGet, registrytest.KindManifest) == 0 {
			t.Error("a new selection was planned without reading the source")
		}
		t.Logf("selection changed: %v", proxy.Counts())
	})

	t.Run("source tag moved", func(t *testing.T) {
		moved := registrytest.PushIndex(t, reg.Ref("app/web:1.0"), registrytest.IndexSpec{Images: testImages[:2]})
		proxy.Reset()
		rec, inspected, err := r.engine.Replan(ctx, spec, &first)
		if err != nil || !inspected {
			t.Fatalf("inspected = %v, err = %v", inspected, err)
		}
		if rec.SourceDigest != moved.Digest.String() || len(rec.Manifests) != 2 {
			t.Errorf("record %+v, want the moved tag %s with 2 platforms", rec, moved.Digest)
		}
		// One HEAD finds the move; the new index is then read by the digest the HEAD found. The
		// images it lists are those the first plan read: by digest, they are not asked again.
		if err := expectRequests(t, proxy, map[registrytest.Call]int{headManifest: 1, getManifest: 1}); err != nil {
			t.Error(err)
		}
	})
}

func TestAccImageMirror_replanCostsOneHeadAtSource(t *testing.T) {
	t.Parallel()
	src, dst := registrytest.Start(t), registrytest.Start(t)
	proxy := registrytest.NewProxy(t, src)
	pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	config := hostsConfig(proxy.Host, dst.Host) + mirrorResource(proxy.Ref("app/web:1.0"), dst.Ref("mirror/web"))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{Config: config},
			{
				// One `terraform plan` (refresh included) between PreConfig and the PreApply checks.
				PreConfig: proxy.Reset,
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
					planFuncCheck(func(*tfjson.Plan) error {
						return expectRequests(t, proxy, map[registrytest.Call]int{headManifest: 1, getManifest: 0, getBlob: 0})
					}),
				}},
			},
		},
	})
}

// ---------------------------------------------------------------------------------------------
// Known and unknown values
// ---------------------------------------------------------------------------------------------

// plannedValues holds the planned values of a resource that its check captured, to compare
// them with the state after apply.
type plannedValues struct {
	addr   string
	values map[string]any
}

// check captures the planned values.
func (p *plannedValues) check() plancheck.PlanCheck {
	return planFuncCheck(func(plan *tfjson.Plan) error {
		_, after, err := resourceChange(plan.ResourceChanges, p.addr, "planned changes")
		p.values = after
		return err
	})
}

// sameAsState fails unless every computed attribute of the state equals what was planned.
func (p *plannedValues) sameAsState(s *terraform.State) error {
	rs, ok := s.RootModule().Resources[p.addr]
	if !ok {
		return fmt.Errorf("%s is not in the state", p.addr)
	}
	a := rs.Primary.Attributes
	for _, k := range []string{"id", "source_digest", "digest", "ref"} {
		if got, want := a[k], p.values[k]; got != want {
			return fmt.Errorf("%s.%s: state %q, plan %v", p.addr, k, got, want)
		}
	}
	if got, want := a["size"], fmt.Sprint(p.values["size"]); got != want {
		return fmt.Errorf("%s.size: state %s, plan %s", p.addr, got, want)
	}
	manifests, _ := p.values["manifests"].([]any)
	if got := a["manifests.#"]; got != fmt.Sprint(len(manifests)) {
		return fmt.Errorf("%s.manifests: state has %s, plan %d", p.addr, got, len(manifests))
	}
	for i, m := range manifests {
		for k, v := range m.(map[string]any) {
			if got := a[fmt.Sprintf("manifests.%d.%s", i, k)]; got != fmt.Sprint(v) {
				return fmt.Errorf("%s.manifests[%d].%s: state %q, plan %v", p.addr, i, k, got, v)
			}
		}
	}
	return nil
}

func TestAccImageMirror_planShowsWhatApplyCopies(t *testing.T) {
	t.Parallel()
	src, dst := registrytest.Start(t), registrytest.Start(t)
	raw := pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	digest := sha256Of(raw)
	size := contentSize(t, src.Ref("app/web:1.0"))

	manifests := expectedManifests(t, raw)
	if len(manifests) != len(testImages) {
		t.Fatalf("%d image entries, want %d", len(manifests), len(testImages))
	}

	full, filtered := "zarf_image_mirror.full", "zarf_image_mirror.filtered"
	config := providerConfig(src, dst) + fmt.Sprintf(`
resource "zarf_image_mirror" "full" {
  source = %q
  target = %q
}
resource "zarf_image_mirror" "filtered" {
  source     = %q
  target     = %q
  platforms  = ["linux/arm64", "linux/s390x"]
  index_mode = "filter"
}
`, src.Ref("app/web:1.0"), dst.Ref("mirror/web"), src.Ref("app/web:1.0"), dst.Ref("mirror/filtered:v1"))

	expect := map[string]knownvalue.Check{
		"id":            knownvalue.StringExact(dst.Ref("mirror/web") + "@" + digest),
		"source_digest": knownvalue.StringExact(digest),
		"digest":        knownvalue.StringExact(digest),
		"ref":           knownvalue.StringExact(dst.Ref("mirror/web") + ":1.0@" + digest),
		"size":          knownvalue.Int64Exact(size),
		"manifests":     knownvalue.ListExact(manifests),
	}
	var planChecks []plancheck.PlanCheck
	var stateChecks []statecheck.StateCheck
	for attr, check := range expect {
		planChecks = append(planChecks, plancheck.ExpectKnownValue(full, tfjsonpath.New(attr), check))
		stateChecks = append(stateChecks, statecheck.ExpectKnownValue(full, tfjsonpath.New(attr), check))
	}
	fullPlan, filteredPlan := &plannedValues{addr: full}, &plannedValues{addr: filtered}
	planChecks = append(planChecks, fullPlan.check(), filteredPlan.check(),
		plancheck.ExpectKnownValue(filtered, tfjsonpath.New("source_digest"), knownvalue.StringExact(digest)),
		plancheck.ExpectKnownValue(filtered, tfjsonpath.New("digest"), knownvalue.StringRegexp(regexp.MustCompile(`^sha256:[0-9a-f]{64}$`))),
		plancheck.ExpectKnownValue(filtered, tfjsonpath.New("manifests"), knownvalue.ListExact([]knownvalue.Check{
			platformIs("linux/arm64/v8"), platformIs("linux/s390x"),
		})),
	)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config:            config,
			ConfigPlanChecks:  resource.ConfigPlanChecks{PreApply: planChecks},
			ConfigStateChecks: stateChecks,
			Check: resource.ComposeTestCheckFunc(
				fullPlan.sameAsState,
				filteredPlan.sameAsState,
				// The filtered index's digest, planned before anything was pushed, is that of
				// the bytes the target serves.
				func(*terraform.State) error {
					got, _ := registrytest.Fetch(t, dst.Ref("mirror/filtered:v1"))
					if want := filteredPlan.values["digest"]; sha256Of(got) != want {
						return fmt.Errorf("the target serves %s, the plan said %v", sha256Of(got), want)
					}
					return nil
				},
			),
		}},
	})
}

func TestAccImageMirror_unknownSourceAtPlan(t *testing.T) {
	t.Parallel()
	src, dst := registrytest.Start(t), registrytest.Start(t)
	raw := pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	config := providerConfig(src, dst) + fmt.Sprintf(`
resource "terraform_data" "src" {
  input = %q
}
resource "zarf_image_mirror" "test" {
  source = terraform_data.src.output
  target = %q
}
`, src.Ref("app/web:1.0"), dst.Ref("mirror/web"))
	var unknown []plancheck.PlanCheck
	for _, attr := range []string{"id", "source_digest", "digest", "ref", "manifests", "size"} {
		unknown = append(unknown, plancheck.ExpectUnknownValue(mirrorAddr, tfjsonpath.New(attr)))
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config:           config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: unknown},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("digest"), knownvalue.StringExact(sha256Of(raw))),
					statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("manifests"), knownvalue.ListSizeExact(len(testImages))),
				},
				Check: checkSameBytes(t, dst.Ref("mirror/web:1.0"), raw, types.OCIImageIndex),
			},
			{
				Config:           config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

// ---------------------------------------------------------------------------------------------
// Warnings
// ---------------------------------------------------------------------------------------------

func TestModifyPlan_warnings(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t)
	many := registrytest.PushIndex(t, reg.Ref("app/many:1"), registrytest.IndexSpec{Images: sixteenPlatforms, Attestations: true})
	manySize := contentSize(t, reg.Ref("app/many:1"))
	// Each case is a plan of its own: a provider process, with an engine of its own.
	fresh := func() *imageMirrorResource { return testResource(t, reg.Host) }
	target := reg.Ref("mirror/many")

	t.Run("all platforms implicitly", func(t *testing.T) {
		resp, planned := modifyPlan(t, fresh(), planModel(t, reg.Ref("app/many:1"), target, nil, mirror.ModePreserve), nil)
		if resp.Diagnostics.HasError() {
			t.Fatalf("errors: %v", diagTexts(resp.Diagnostics))
		}
		warnings := resp.Diagnostics.Warnings()
		if len(warnings) != 1 {
			t.Fatalf("%d warnings, want 1: %v", len(warnings), diagTexts(warnings))
		}
		text := diagTexts(warnings)[0]
		t.Logf("warning: %s", text)
		mustContain(t, text, reg.Ref("app/many:1"), "16 platforms", mirror.HumanBytes(manySize), fmt.Sprint(manySize), "platforms = [")
		if !warnings[0].(diag.DiagnosticWithPath).Path().Equal(path.Root("platforms")) {
			t.Errorf("the warning is about %s, want platforms", warnings[0].(diag.DiagnosticWithPath).Path())
		}
		if planned.Size.ValueInt64() != manySize || planned.SourceDigest.ValueString() != many.Digest.String() ||
			planned.Digest.ValueString() != many.Digest.String() || len(planned.Manifests.Elements()) != 16 {
			t.Errorf("planned size %v, source_digest %v, digest %v, %d manifests; want %d, %s, %s, 16",
				planned.Size, planned.SourceDigest, planned.Digest, len(planned.Manifests.Elements()), manySize, many.Digest, many.Digest)
		}
		if want := target + ":1@" + many.Digest.String(); planned.Ref.ValueString() != want {
			t.Errorf("planned ref %v, want %s", planned.Ref, want)
		}
	})

	t.Run("one platform selected, preserve", func(t *testing.T) {
		resp, planned := modifyPlan(t, fresh(), planModel(t, reg.Ref("app/many:1"), target, []string{"linux/amd64"}, mirror.ModePreserve), nil)
		if resp.Diagnostics.HasError() {
			t.Fatalf("errors: %v", diagTexts(resp.Diagnostics))
		}
		warnings := diagTexts(resp.Diagnostics.Warnings())
		if len(warnings) != 1 {
			t.Fatalf("%d warnings, want only the sparse index one: %v", len(warnings), warnings)
		}
		if strings.Contains(warnings[0], "Mirroring all") {
			t.Errorf("bloat warning with platforms set: %s", warnings[0])
		}
		t.Logf("warning: %s", warnings[0])
		mustContain(t, warnings[0], "Sparse index", many.Digest.String(), "CNCF distribution registry v3",
			"1 of the 16 platforms", "validation.manifests.indexes.platforms: none", "MANIFEST_BLOB_UNKNOWN", `index_mode = "filter"`)
		if planned.Digest.ValueString() != many.Digest.String() || len(planned.Manifests.Elements()) != 1 {
			t.Errorf("planned digest %v with %d manifests, want %s with 1", planned.Digest, len(planned.Manifests.Elements()), many.Digest)
		}
	})

	t.Run("every platform without attestations, preserve", func(t *testing.T) {
		m := planModel(t, reg.Ref("app/many:1"), target, nil, mirror.ModePreserve)
		m.Attestations = fwtypes.BoolValue(false)
		resp, _ := modifyPlan(t, fresh(), m, nil)
		warnings := resp.Diagnostics.Warnings()
		if len(warnings) != 2 || resp.Diagnostics.HasError() {
			t.Fatalf("diagnostics %v, want the bloat and the sparse index warnings", diagTexts(resp.Diagnostics))
		}
		text := diagTexts(warnings)[1]
		mustContain(t, text, "Sparse index", "attestations = false", "validation.manifests.indexes.platforms: none")
		if !warnings[1].(diag.DiagnosticWithPath).Path().Equal(path.Root("attestations")) {
			t.Errorf("the warning is about %s, want attestations", warnings[1].(diag.DiagnosticWithPath).Path())
		}
	})

	t.Run("one platform selected, filter", func(t *testing.T) {
		resp, planned := modifyPlan(t, fresh(), planModel(t, reg.Ref("app/many:1"), target, []string{"linux/amd64"}, mirror.ModeFilter), nil)
		if len(resp.Diagnostics) != 0 {
			t.Fatalf("diagnostics, want none: %v", diagTexts(resp.Diagnostics))
		}
		if planned.Digest.ValueString() == many.Digest.String() || planned.SourceDigest.ValueString() != many.Digest.String() {
			t.Errorf("filter mode planned digest %v, source_digest %v", planned.Digest, planned.SourceDigest)
		}
	})

	t.Run("untagged target", func(t *testing.T) {
		one := registrytest.PushIndex(t, reg.Ref("app/one"), registrytest.IndexSpec{Images: testImages[:1]})
		source := reg.Ref("app/one@" + one.Digest.String())
		resp, planned := modifyPlan(t, fresh(), planModel(t, source, reg.Ref("mirror/one"), nil, mirror.ModePreserve), nil)
		warnings := diagTexts(resp.Diagnostics)
		if len(warnings) != 1 || resp.Diagnostics.HasError() {
			t.Fatalf("diagnostics %v, want one warning", warnings)
		}
		t.Logf("warning: %s", warnings[0])
		mustContain(t, warnings[0], "digest only", reg.Ref("mirror/one@"+one.Digest.String()), "garbage", reg.Ref("mirror/one")+":<tag>")
		if want := reg.Ref("mirror/one@" + one.Digest.String()); planned.Ref.ValueString() != want {
			t.Errorf("planned ref %v, want %s", planned.Ref, want)
		}

		// With a tag at the target, nothing to say.
		resp, _ = modifyPlan(t, fresh(), planModel(t, source, reg.Ref("mirror/one:v1"), nil, mirror.ModePreserve), nil)
		if len(resp.Diagnostics) != 0 {
			t.Errorf("diagnostics with a tagged target: %v", diagTexts(resp.Diagnostics))
		}
	})

	t.Run("unknown source", func(t *testing.T) {
		m := planModel(t, "", target, nil, mirror.ModePreserve)
		m.Source = fwtypes.StringUnknown()
		resp, planned := modifyPlan(t, fresh(), m, nil)
		if len(resp.Diagnostics) != 0 {
			t.Fatalf("diagnostics: %v", diagTexts(resp.Diagnostics))
		}
		if !planned.SourceDigest.IsUnknown() || !planned.Digest.IsUnknown() || !planned.Ref.IsUnknown() ||
			!planned.ID.IsUnknown() || !planned.Manifests.IsUnknown() || !planned.Size.IsUnknown() {
			t.Errorf("computed values not unknown: %+v", planned)
		}
	})

	t.Run("update without private state", func(t *testing.T) {
		// req.Private is nil: loadRecord finds no record and the source is inspected in full.
		m := planModel(t, reg.Ref("app/many:1"), target, []string{"linux/amd64"}, mirror.ModeFilter)
		prior := m
		prior.Platforms = fwtypes.SetNull(fwtypes.StringType)
		prior.IndexMode = fwtypes.StringValue(string(mirror.ModePreserve))
		prior.SourceDigest = fwtypes.StringValue(many.Digest.String())
		prior.Digest = fwtypes.StringValue(many.Digest.String())
		prior.ID = fwtypes.StringValue(target + "@" + many.Digest.String())
		prior.Ref = fwtypes.StringValue(target + ":1@" + many.Digest.String())
		prior.Size = fwtypes.Int64Value(manySize)
		prior.Manifests, _ = manifestsValue(nil)
		resp, planned := modifyPlan(t, fresh(), m, &prior)
		if len(resp.Diagnostics) != 0 {
			t.Fatalf("diagnostics: %v", diagTexts(resp.Diagnostics))
		}
		if len(planned.Manifests.Elements()) != 1 || planned.Size.ValueInt64() >= manySize {
			t.Errorf("planned %d manifests of %v bytes", len(planned.Manifests.Elements()), planned.Size)
		}
	})
}

// TestModifyPlan_warningsOnlyForDecisions: the warning about mirroring every platform shows when
// a decision is made about a source of more than two platforms (a create, or a new selection or
// size), without max_bytes and not from a layout; never on a plan without changes or on an update
// that only copies a new signature. Its advice names both ways that work.
func TestModifyPlan_warningsOnlyForDecisions(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t)
	many := registrytest.PushIndex(t, reg.Ref("app/many:1"), registrytest.IndexSpec{Images: sixteenPlatforms, Attestations: true})
	registrytest.PushIndex(t, reg.Ref("app/two:1"), registrytest.IndexSpec{Images: testImages[:2], Attestations: true})
	// Each case plans with an engine of its own, as a separate Terraform run does: one run
	// with two mirrors of other sources into one tag is an error of its own (claims).
	r := func() *imageMirrorResource { return testResource(t, reg.Host) }
	ctx := context.Background()
	source, target := reg.Ref("app/many:1"), reg.Ref("mirror/many")
	allPlatforms := func(resp *fwresource.ModifyPlanResponse) []string {
		t.Helper()
		if resp.Diagnostics.HasError() {
			t.Fatalf("errors: %v", diagTexts(resp.Diagnostics))
		}
		var texts []string
		for _, w := range diagTexts(resp.Diagnostics.Warnings()) {
			if strings.HasPrefix(w, "Mirroring all") {
				texts = append(texts, w)
			}
		}
		return texts
	}
	applied := func(m imageMirrorModel) mirror.Record {
		t.Helper()
		spec, _, d := m.spec(ctx)
		if d.HasError() {
			t.Fatal(d)
		}
		rec, _, err := r().engine.Replan(ctx, spec, nil)
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}

	t.Run("create of more than two platforms", func(t *testing.T) {
		resp, _ := modifyPlan(t, r(), planModel(t, source, target, nil, mirror.ModePreserve), nil)
		warnings := allPlatforms(resp)
		if len(warnings) != 1 {
			t.Fatalf("warnings %v, want one about all platforms", diagTexts(resp.Diagnostics))
		}
		t.Logf("warning: %s", warnings[0])
		// Both ways that work: a filtered index, or every platform / a registry that accepts a
		// sparse index; platforms alone (with the default preserve) is not offered as enough.
		mustContain(t, warnings[0], "16 platforms", `index_mode = "filter"`, `platforms = ["linux/amd64"]`,
			"sparse index", "validation.manifests.indexes.platforms", "max_bytes")
		if regexp.MustCompile(`(?i)to copy fewer, set platforms`).MatchString(warnings[0]) {
			t.Errorf("the advice offers platforms alone: %s", warnings[0])
		}
	})

	for _, tc := range []struct {
		name  string
		model imageMirrorModel
	}{
		{"two platforms", planModel(t, reg.Ref("app/two:1"), target, nil, mirror.ModePreserve)},
		{"max_bytes bounds the size", func() imageMirrorModel {
			m := planModel(t, source, target, nil, mirror.ModePreserve)
			m.MaxBytes = fwtypes.Int64Value(1 << 30)
			return m
		}()},
	} {
		t.Run("create, "+tc.name, func(t *testing.T) {
			resp, _ := modifyPlan(t, r(), tc.model, nil)
			if w := allPlatforms(resp); len(w) != 0 {
				t.Errorf("warning: %v", w)
			}
		})
	}

	t.Run("create from a layout", func(t *testing.T) {
		dir := t.TempDir()
		hop := r().engine
		p, err := hop.Plan(ctx, mirror.Spec{Source: source, Target: "oci-layout://" + dir, Attestations: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := hop.Apply(ctx, p); err != nil {
			t.Fatal(err)
		}
		resp, _ := modifyPlan(t, r(), planModel(t, "oci-layout://"+dir+":1", target, nil, mirror.ModePreserve), nil)
		if w := allPlatforms(resp); len(w) != 0 {
			t.Errorf("warning on the second hop, whose platforms the first hop chose: %v", w)
		}
	})

	t.Run("plan without changes after apply", func(t *testing.T) {
		m := planModel(t, source, target, nil, mirror.ModePreserve)
		resp := modifyPlanAfterApply(t, r(), m, applied(m))
		if len(resp.Diagnostics) != 0 {
			t.Errorf("diagnostics: %v", diagTexts(resp.Diagnostics))
		}
	})

	t.Run("new selection", func(t *testing.T) {
		before := planModel(t, source, target, nil, mirror.ModePreserve)
		before.Attestations = fwtypes.BoolValue(false)
		resp := modifyPlanAfterApply(t, r(), planModel(t, source, target, nil, mirror.ModePreserve), applied(before))
		if w := allPlatforms(resp); len(w) != 1 {
			t.Errorf("warnings %v, want the one about all platforms", diagTexts(resp.Diagnostics))
		}
	})

	t.Run("update that only copies a new signature", func(t *testing.T) {
		m := planModel(t, source, target, nil, mirror.ModePreserve)
		m.Referrers = fwtypes.BoolValue(true)
		rec := applied(m)
		pushCosign(t, reg.Ref("app/many"), many.Digest.String(), ".sig")
		resp := modifyPlanAfterApply(t, r(), m, rec)
		warnings := diagTexts(resp.Diagnostics)
		if len(warnings) != 1 || !strings.HasPrefix(warnings[0], "New signatures or attestations at the source") {
			t.Errorf("diagnostics %v, want only the one about the new signature", warnings)
		}
	})
}

func TestLoadRecord_nilPrivateState(t *testing.T) {
	t.Parallel()
	rec, ok, diags := loadRecord(context.Background(), fwresource.ModifyPlanRequest{}.Private)
	if ok || diags.HasError() || rec.Digest != "" {
		t.Errorf("loadRecord(nil) = %+v, %v, %v; want nothing found, no error", rec, ok, diags)
	}
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

func TestModifyPlan_errors(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t)
	locked := registrytest.Start(t, registrytest.WithBasicAuth("ci", "s3cret"))
	idx := registrytest.PushIndex(t, reg.Ref("app/web:1.0"), registrytest.IndexSpec{Images: testImages, Attestations: true})
	registrytest.PushIndex(t, locked.Ref("app/web:1.0"), registrytest.IndexSpec{Images: testImages[:1]}, locked.RemoteOptions()...)
	size := contentSize(t, reg.Ref("app/web:1.0"))
	r := testResource(t, reg.Host, locked.Host)
	target := reg.Ref("mirror/web")
	zero := "sha256:" + strings.Repeat("0", 64)

	for _, tc := range []struct {
		name  string
		model func(m *imageMirrorModel)
		attr  string
		want  []string
	}{{
		name: "unknown platform",
		model: func(m *imageMirrorModel) {
			m.Platforms, _ = fwtypes.SetValueFrom(context.Background(), fwtypes.StringType, []string{"linux/amd64", "linux/riscv64"})
		},
		attr: "platforms",
		want: []string{"linux/riscv64", "linux/amd64, linux/arm/v7, linux/arm64/v8, linux/s390x"},
	}, {
		name:  "max_bytes exceeded",
		model: func(m *imageMirrorModel) { m.MaxBytes = fwtypes.Int64Value(size - 1) },
		attr:  "max_bytes",
		want:  []string{fmt.Sprintf("(%d bytes)", size), fmt.Sprintf("max_bytes = %d", size-1), mirror.HumanBytes(size)},
	}, {
		name:  "missing tag",
		model: func(m *imageMirrorModel) { m.Source = fwtypes.StringValue(reg.Ref("app/web:nope")) },
		want:  []string{"registry " + reg.Host, "app/web:nope", "not found", "MANIFEST_UNKNOWN"},
	}, {
		name:  "missing repository",
		model: func(m *imageMirrorModel) { m.Source = fwtypes.StringValue(reg.Ref("app/gone:1.0")) },
		want:  []string{"registry " + reg.Host, "app/gone", "not found"},
	}, {
		name:  "unauthorised",
		model: func(m *imageMirrorModel) { m.Source = fwtypes.StringValue(locked.Ref("app/web:1.0")) },
		want:  []string{"registry " + locked.Host, `repository "app/web"`, "UNAUTHORIZED"},
	}, {
		name:  "target digest that cannot match",
		model: func(m *imageMirrorModel) { m.Target = fwtypes.StringValue(target + "@" + zero) },
		attr:  "target",
		want:  []string{"pinned to " + zero, "pushes " + idx.Digest.String()},
	}, {
		name:  "bad source reference",
		model: func(m *imageMirrorModel) { m.Source = fwtypes.StringValue("http://" + reg.Ref("app/web:1.0")) },
		attr:  "source",
		want:  []string{"not a valid image reference", "without a scheme"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			m := planModel(t, reg.Ref("app/web:1.0"), target, nil, mirror.ModePreserve)
			tc.model(&m)
			resp, _ := modifyPlan(t, r, m, nil)
			errs := resp.Diagnostics.Errors()
			if len(errs) != 1 {
				t.Fatalf("%d errors, want 1: %v", len(errs), diagTexts(resp.Diagnostics))
			}
			text := diagTexts(errs)[0]
			t.Logf("error: %s", text)
			mustContain(t, text, tc.want...)
			if strings.Contains(text, "s3cret") {
				t.Error("the error shows the password")
			}
			if tc.attr != "" {
				if p, ok := errs[0].(diag.DiagnosticWithPath); !ok || !p.Path().Equal(path.Root(tc.attr)) {
					t.Errorf("the error is not about %s: %#v", tc.attr, errs[0])
				}
			}
		})
	}
}

func TestAccImageMirror_planErrors(t *testing.T) {
	t.Parallel()
	src, dst := registrytest.Start(t), registrytest.Start(t)
	locked := registrytest.Start(t, registrytest.WithBasicAuth("ci", "s3cret"))
	raw := pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	registrytest.PushIndex(t, locked.Ref("app/web:1.0"), registrytest.IndexSpec{Images: testImages[:1]}, locked.RemoteOptions()...)
	size := contentSize(t, src.Ref("app/web:1.0"))
	cfg := func(source, target, extra string) string {
		return providerConfig(src, dst, locked) + fmt.Sprintf("resource \"zarf_image_mirror\" \"test\" {\n  source = %q\n  target = %q\n%s\n}\n", source, target, extra)
	}
	web, tgt := src.Ref("app/web:1.0"), dst.Ref("mirror/web")
	quote := regexp.QuoteMeta
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config:      cfg(web, tgt, `platforms = ["linux/riscv64"]`),
				ExpectError: regexp.MustCompile(`(?s)does not list platform\s+linux/riscv64.*linux/amd64,\s+linux/arm/v7,\s+linux/arm64/v8,\s+linux/s390x`),
			},
			{
				Config:      cfg(web, tgt, "max_bytes = 1000"),
				ExpectError: regexp.MustCompile(fmt.Sprintf(`(?s)copies.*\(%d\s+bytes\).*max_bytes\s+=\s+1000`, size)),
			},
			{
				Config:      cfg(src.Ref("app/web:nope"), tgt, ""),
				ExpectError: regexp.MustCompile(`(?s)not\s+found\s+in\s+registry\s+` + quote(src.Host) + `.*app/web.*MANIFEST_UNKNOWN`),
			},
			{
				Config:      cfg(locked.Ref("app/web:1.0"), tgt, ""),
				ExpectError: regexp.MustCompile(`(?s)registry\s+` + quote(locked.Host) + `\s+refused\s+access\s+to\s+repository\s+"app/web".*UNAUTHORIZED`),
			},
			{
				Config:      cfg(web, tgt+"@sha256:"+strings.Repeat("0", 64), ""),
				ExpectError: regexp.MustCompile(`(?s)pinned\s+to\s+sha256:0{64}.*pushes\s+` + sha256Of(raw)),
			},
		},
	})
}

// ---------------------------------------------------------------------------------------------
// Apply copies what the plan resolved
// ---------------------------------------------------------------------------------------------

func TestAccImageMirror_tagMovedBetweenPlanAndApply(t *testing.T) {
	t.Parallel()
	src, dst := registrytest.Start(t), registrytest.Start(t)
	dstProxy := registrytest.NewProxy(t, dst)
	raw := pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	var moved string
	moveTag := planFuncCheck(func(*tfjson.Plan) error {
		// After the plan is saved and before it is applied, someone pushes another index to the
		// source tag.
		moved = registrytest.PushIndex(t, src.Ref("app/web:1.0"), registrytest.IndexSpec{Images: testImages[:2]}).Digest.String()
		return nil
	})
	config := hostsConfig(src.Host, dstProxy.Host) + mirrorResource(src.Ref("app/web:1.0"), dstProxy.Ref("mirror/web"))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("source_digest"), knownvalue.StringExact(sha256Of(raw))),
				moveTag,
			}},
			ExpectError: regexp.MustCompile(`Provider produced inconsistent final plan`),
		}},
	})
	// Nothing reached the target: no request of any kind about manifests or blobs.
	if err := expectRequests(t, dstProxy, map[registrytest.Call]int{
		{Method: http.MethodPut, Kind: registrytest.KindManifest}:  0,
		{Method: http.MethodHead, Kind: registrytest.KindManifest}: 0,
		{Method: http.MethodPost, Kind: registrytest.KindUpload}:   0,
		{Method: http.MethodHead, Kind: registrytest.KindBlob}:     0,
	}); err != nil {
		t.Error(err)
	}
	for _, ref := range []string{"mirror/web:1.0", "mirror/web@" + sha256Of(raw), "mirror/web@" + moved} {
		if registrytest.Exists(t, dst.Ref(ref)) {
			t.Errorf("%s exists at the target", ref)
		}
	}
}

// TestCopy_pinsPlannedDigest: a tag that moves after the final plan (when Terraform can no longer
// notice) does not change what apply copies: the digest the plan resolved lands, so the result
// is consistent with the plan.
func TestCopy_pinsPlannedDigest(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t)
	r := testResource(t, reg.Host)
	planned := registrytest.PushIndex(t, reg.Ref("app/web:1.0"), registrytest.IndexSpec{Images: testImages, Attestations: true})
	resp, plan := modifyPlan(t, r, planModel(t, reg.Ref("app/web:1.0"), reg.Ref("mirror/web"), nil, mirror.ModePreserve), nil)
	if resp.Diagnostics.HasError() {
		t.Fatal(diagTexts(resp.Diagnostics))
	}
	moved := registrytest.PushIndex(t, reg.Ref("app/web:1.0"), registrytest.IndexSpec{Images: testImages[:1]})

	var diags diag.Diagnostics
	rec, ok := r.copy(context.Background(), &plan, &diags)
	if !ok {
		t.Fatal(diagTexts(diags))
	}
	if rec.SourceDigest != planned.Digest.String() || rec.Digest != planned.Digest.String() || rec.Size != plan.Size.ValueInt64() {
		t.Errorf("copied %s (%d bytes), planned %s (%d bytes); the tag moved to %s", rec.Digest, rec.Size, planned.Digest, plan.Size.ValueInt64(), moved.Digest)
	}
	got, _ := registrytest.Fetch(t, reg.Ref("mirror/web:1.0"))
	if sha256Of(got) != planned.Digest.String() {
		t.Errorf("the target tag points at %s, want the planned %s", sha256Of(got), planned.Digest)
	}
}

// Changing only keep_remotely is an update that copies nothing: apply reads nothing from the
// source (the target was checked by refresh).
func TestAccImageMirror_keepRemotelyChangeCopiesNothing(t *testing.T) {
	t.Parallel()
	src, dst := registrytest.Start(t), registrytest.Start(t)
	proxy := registrytest.NewProxy(t, src)
	pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	config := func(keep bool) string {
		return hostsConfig(proxy.Host, dst.Host) + fmt.Sprintf("resource \"zarf_image_mirror\" \"test\" {\n  source = %q\n  target = %q\n  keep_remotely = %v\n}\n",
			proxy.Ref("app/web:1.0"), dst.Ref("mirror/web"), keep)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{Config: config(false)},
			{
				PreConfig: proxy.Reset,
				Config:    config(true),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(mirrorAddr, plancheck.ResourceActionUpdate),
				}},
				// Plan, final plan at apply, and the harness's post-apply plans each HEAD the
				// source once; the update itself reads nothing.
				Check: func(*terraform.State) error {
					return expectRequests(t, proxy, map[registrytest.Call]int{getManifest: 0, getBlob: 0})
				},
			},
		},
	})
}
