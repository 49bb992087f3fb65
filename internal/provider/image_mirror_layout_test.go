package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	tfjson "github.com/hashicorp/terraform-json"
	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// layoutEntries checks the structure of an OCI image layout (oci-layout file, index.json, every
// blob an entry reaches present with the digest and size it is listed with; a manifest that a
// sparse index lists may be absent) and returns the entries of index.json.
func layoutEntries(t *testing.T, dir string) ([]v1.Descriptor, error) {
	t.Helper()
	if raw, err := os.ReadFile(filepath.Join(dir, "oci-layout")); err != nil || !strings.Contains(string(raw), `"imageLayoutVersion"`) {
		return nil, fmt.Errorf("oci-layout file: %v %s", err, raw)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		return nil, err
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, err
	}
	var visit func(d v1.Descriptor, optional bool) error
	visit = func(d v1.Descriptor, optional bool) error {
		b, err := os.ReadFile(filepath.Join(dir, "blobs", d.Digest.Algorithm, d.Digest.Hex))
		if optional && errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("blob %s: %w", d.Digest, err)
		}
		if sha256Of(b) != d.Digest.String() || int64(len(b)) != d.Size {
			return fmt.Errorf("blob %s: digest %s, %d bytes (listed with %d)", d.Digest, sha256Of(b), len(b), d.Size)
		}
		if !d.MediaType.IsIndex() && !d.MediaType.IsImage() {
			return nil
		}
		var m struct {
			Manifests []v1.Descriptor
			Config    *v1.Descriptor
			Layers    []v1.Descriptor
		}
		if err := json.Unmarshal(b, &m); err != nil {
			return err
		}
		for _, c := range m.Manifests {
			if err := visit(c, true); err != nil {
				return err
			}
		}
		if m.Config != nil {
			m.Layers = append(m.Layers, *m.Config)
		}
		for _, c := range m.Layers {
			if err := visit(c, false); err != nil {
				return err
			}
		}
		return nil
	}
	for _, d := range idx.Manifests {
		if err := visit(d, false); err != nil {
			return nil, err
		}
	}
	return idx.Manifests, nil
}

// checkLayout checks the layout's structure and that its entries are want: ref name → digest.
func checkLayout(t *testing.T, dir string, want map[string]string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		entries, err := layoutEntries(t, dir)
		if err != nil {
			return err
		}
		got := map[string]string{}
		for _, d := range entries {
			got[d.Annotations[store.AnnotationRefName]] = d.Digest.String()
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("layout %s lists %v, want %v", dir, got, want)
		}
		return nil
	}
}

// TestAccImageMirror_layoutRoundTrip: registry → layout → registry, every platform in preserve
// mode; the final registry serves the source's index bytes.
func TestAccImageMirror_layoutRoundTrip(t *testing.T) {
	t.Parallel()
	src, dst := registrytest.Start(t), registrytest.Start(t)
	raw := pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	digest := sha256Of(raw)
	dir := filepath.Join(t.TempDir(), "package", "images") // created by the mirror
	layoutRef := "oci-layout://" + dir
	toLayout := fmt.Sprintf("resource \"zarf_image_mirror\" \"pack\" {\n  source = %q\n  target = %q\n}\n", src.Ref("app/web:1.0"), layoutRef)
	fromLayout := fmt.Sprintf("resource \"zarf_image_mirror\" \"unpack\" {\n  source = %q\n  target = %q\n}\n", layoutRef+":1.0", dst.Ref("final/web"))
	byBaseName := fmt.Sprintf("resource \"zarf_image_mirror\" \"by_name\" {\n  source = %q\n  target = %q\n}\n", layoutRef+":"+src.Ref("app/web:1.0"), dst.Ref("final/named"))
	cfg1 := providerConfig(src, dst) + toLayout
	cfg2 := cfg1 + fromLayout + byBaseName
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: cfg1,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue("zarf_image_mirror.pack", tfjsonpath.New("ref"), knownvalue.StringExact(layoutRef+"@"+digest)),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("zarf_image_mirror.pack", tfjsonpath.New("id"), knownvalue.StringExact(layoutRef+"@"+digest)),
					statecheck.ExpectKnownValue("zarf_image_mirror.pack", tfjsonpath.New("digest"), knownvalue.StringExact(digest)),
				},
				Check: resource.ComposeTestCheckFunc(
					checkLayout(t, dir, map[string]string{"1.0": digest}),
					checkBaseName(dir, "1.0", src.Ref("app/web:1.0")),
					checkLayoutBlob(dir, digest, raw),
				),
			},
			{
				Config: cfg2,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("zarf_image_mirror.unpack", tfjsonpath.New("digest"), knownvalue.StringExact(digest)),
					statecheck.ExpectKnownValue("zarf_image_mirror.unpack", tfjsonpath.New("ref"), knownvalue.StringExact(dst.Ref("final/web:1.0@")+digest)),
				},
				Check: resource.ComposeTestCheckFunc(
					checkSameBytes(t, dst.Ref("final/web:1.0"), raw, types.OCIImageIndex),
					checkSameBytes(t, dst.Ref("final/named:1.0"), raw, types.OCIImageIndex),
					checkChildren(t, src.Ref("app/web:1.0"), dst.Ref("final/web"), map[string]bool{
						"linux/amd64": true, "linux/arm64/v8": true, "linux/arm/v7": true, "linux/s390x": true,
					}),
				),
			},
			{
				Config:           cfg2,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{
				// A ref the layout does not have: the error lists what it has.
				Config:      cfg1 + strings.ReplaceAll(fromLayout, ":1.0\"", ":2.0\""),
				ExpectError: regexp.MustCompile(`(?s)has\s+no\s+entry\s+for\s+ref\s+"2.0".*ref\s+"1.0"`),
			},
		},
		CheckDestroy: func(*terraform.State) error { return checkLayout(t, dir, map[string]string{})(nil) },
	})
}

func checkBaseName(dir, ref, want string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
		if err != nil {
			return err
		}
		var idx v1.IndexManifest
		if err := json.Unmarshal(raw, &idx); err != nil {
			return err
		}
		for _, d := range idx.Manifests {
			if d.Annotations[store.AnnotationRefName] == ref {
				if got := d.Annotations[store.AnnotationBaseName]; got != want {
					return fmt.Errorf("entry %s: base name %q, want %q", ref, got, want)
				}
				return nil
			}
		}
		return fmt.Errorf("no entry %s", ref)
	}
}

func checkLayoutBlob(dir, digest string, want []byte) resource.TestCheckFunc {
	return func(*terraform.State) error {
		got, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(digest, "sha256:")))
		if err != nil || string(got) != string(want) {
			return fmt.Errorf("layout blob %s: %v; bytes equal: %v", digest, err, string(got) == string(want))
		}
		return nil
	}
}

// TestAccImageMirror_layoutSubset: a subset of the platforms into one layout, in preserve mode
// (sparse: the layout accepts it, and so does a registry with validation none) and in filter
// mode, then out of the layout into the registries.
func TestAccImageMirror_layoutSubset(t *testing.T) {
	t.Parallel()
	src, dst, loose := registrytest.Start(t), registrytest.Start(t), registrytest.Start(t, registrytest.WithIndexValidation("none"))
	raw := pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	digest := sha256Of(raw)
	dir := t.TempDir()
	layoutRef := "oci-layout://" + dir
	pack := fmt.Sprintf(`resource "zarf_image_mirror" "sparse" {
  source    = %q
  target    = %q
  platforms = ["linux/amd64", "linux/arm64"]
}
resource "zarf_image_mirror" "filtered" {
  source     = %q
  target     = %q
  platforms  = ["linux/arm/v7"]
  index_mode = "filter"
}
`, src.Ref("app/web:1.0"), layoutRef+":sparse", src.Ref("app/web:1.0"), layoutRef+":arm")
	unpack := fmt.Sprintf(`resource "zarf_image_mirror" "sparse_out" {
  source    = %q
  target    = %q
  platforms = ["linux/amd64", "linux/arm64"]
}
resource "zarf_image_mirror" "filtered_out" {
  source = %q
  target = %q
}
`, layoutRef+":sparse", loose.Ref("final/web:1.0"), layoutRef+":arm", dst.Ref("final/web:arm"))
	cfg1 := providerConfig(src, dst, loose) + pack
	var filtered string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: cfg1,
				Check: resource.ComposeTestCheckFunc(
					func(s *terraform.State) error {
						filtered = s.RootModule().Resources["zarf_image_mirror.filtered"].Primary.Attributes["digest"]
						return nil
					},
					resource.TestCheckResourceAttr("zarf_image_mirror.sparse", "digest", digest),
					func(s *terraform.State) error {
						return checkLayout(t, dir, map[string]string{"sparse": digest, "arm": filtered})(s)
					},
				),
			},
			{
				Config: cfg1 + unpack,
				Check: resource.ComposeTestCheckFunc(
					checkSameBytes(t, loose.Ref("final/web:1.0"), raw, types.OCIImageIndex),
					checkChildren(t, src.Ref("app/web:1.0"), loose.Ref("final/web"), map[string]bool{
						"linux/amd64": true, "linux/arm64/v8": true, "linux/arm/v7": false, "linux/s390x": false,
					}),
					func(*terraform.State) error { return checkFilteredIndex(t, dst.Ref("final/web:arm"), digest)(nil) },
					resource.TestCheckResourceAttrPair("zarf_image_mirror.filtered_out", "digest", "zarf_image_mirror.filtered", "digest"),
				),
			},
		},
	})
}

// TestAccImageMirror_zarfPackageLayout reads a layout written as a Zarf package's images/ folder
// is (go-containerregistry's layout package; index.json entries annotated with the original
// reference only) and mirrors an image out of it by that reference, written as a pod spec
// would write it.
func TestAccImageMirror_zarfPackageLayout(t *testing.T) {
	t.Parallel()
	src, dst := registrytest.Start(t), registrytest.Start(t)
	raw := pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	digest := sha256Of(raw)
	dir := t.TempDir()
	writeZarfLayout(t, dir, src, src.Ref("app/web:1.0"), "docker.io/library/nginx:1.27")
	config := mirrorConfig(fmt.Sprintf("source = %q\ntarget = %q", "oci-layout://"+dir+":nginx:1.27", dst.Ref("library/nginx")), src, dst)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config:      mirrorConfig(fmt.Sprintf("source = %q\ntarget = %q", "oci-layout://"+dir+":nginx:1.26", dst.Ref("library/nginx")), src, dst),
				ExpectError: regexp.MustCompile(`(?s)has\s+no\s+entry\s+for\s+ref\s+"nginx:1.26".*docker.io/library/nginx:1.27`),
			},
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("digest"), knownvalue.StringExact(digest)),
					statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("ref"), knownvalue.StringExact(dst.Ref("library/nginx:1.27@")+digest)),
				},
				Check: checkSameBytes(t, dst.Ref("library/nginx:1.27"), raw, types.OCIImageIndex),
			},
			{
				Config:           config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

// writeZarfLayout writes the index at ref with everything it lists into a new layout at dir,
// with go-containerregistry's layout package, annotated as Zarf does.
func writeZarfLayout(t *testing.T, dir string, reg *registrytest.Registry, ref, baseName string) {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(r, append(reg.RemoteOptions(), remote.WithContext(t.Context()))...)
	if err != nil {
		t.Fatal(err)
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{store.AnnotationBaseName: baseName})); err != nil {
		t.Fatal(err)
	}
}

// TestAccImageMirror_layoutDrift: a layout target that changed behind Terraform's back is a
// planned repair: a manifest file deleted, the entry pointed elsewhere, the entry removed.
func TestAccImageMirror_layoutDrift(t *testing.T) {
	t.Parallel()
	src := registrytest.Start(t)
	raw := pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	digest := sha256Of(raw)
	var index v1.IndexManifest
	if err := json.Unmarshal(raw, &index); err != nil {
		t.Fatal(err)
	}
	child := index.Manifests[0].Digest
	dir := t.TempDir()
	config := mirrorConfig(fmt.Sprintf("source = %q\ntarget = %q", src.Ref("app/web:1.0"), "oci-layout://"+dir), src)
	editIndex := func(edit func(entries []map[string]any) []map[string]any) {
		path := filepath.Join(dir, "index.json")
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		var entries []map[string]any
		for _, e := range doc["manifests"].([]any) {
			entries = append(entries, e.(map[string]any))
		}
		doc["manifests"] = edit(entries)
		if b, err = json.Marshal(doc); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	repaired := resource.ComposeTestCheckFunc(checkLayout(t, dir, map[string]string{"1.0": digest}), checkLayoutBlob(dir, digest, raw))
	empty := resource.TestStep{Config: config, ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{Config: config, Check: repaired},
			{
				PreConfig: func() { os.Remove(filepath.Join(dir, "blobs", "sha256", child.Hex)) },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(mirrorAddr, plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeTestCheckFunc(repaired, func(*terraform.State) error {
					if _, err := os.Stat(filepath.Join(dir, "blobs", "sha256", child.Hex)); err != nil {
						return fmt.Errorf("the deleted manifest was not written again: %w", err)
					}
					return nil
				}),
			},
			empty,
			{
				PreConfig: func() {
					editIndex(func(es []map[string]any) []map[string]any {
						es[0]["digest"] = child.String()
						es[0]["mediaType"] = string(types.OCIManifestSchema1)
						return es
					})
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(mirrorAddr, plancheck.ResourceActionUpdate),
				}},
				Check: repaired,
			},
			empty,
			{
				PreConfig: func() { editIndex(func([]map[string]any) []map[string]any { return []map[string]any{} }) },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(mirrorAddr, plancheck.ResourceActionCreate),
				}},
				Check: repaired,
			},
			{
				PreConfig: func() { os.Remove(filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(digest, "sha256:"))) },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(mirrorAddr, plancheck.ResourceActionCreate),
				}},
				Check: repaired,
			},
			empty,
		},
	})
}

// TestAccImageMirror_layoutReferenceErrors: a reference that is neither a registry reference nor
// a valid layout reference fails the plan, naming the attribute.
func TestAccImageMirror_layoutReferenceErrors(t *testing.T) {
	t.Parallel()
	src := registrytest.Start(t)
	var steps []resource.TestStep
	for _, tc := range []struct{ body, want string }{
		{fmt.Sprintf("source = %q\ntarget = %q", src.Ref("a:1"), "oci-layout://"), `target "oci-layout://" is not a valid image reference: the layout path is empty`},
		{fmt.Sprintf("source = %q\ntarget = %q", "oci-layout://dir", src.Ref("a")), `source "oci-layout://dir" is not a valid image reference: name the image`},
		{fmt.Sprintf("source = %q\ntarget = %q", src.Ref("a:1"), "oci://dir:x"), `target "oci://dir:x" is not a valid image reference.*oci-layout://<path>:<ref>`},
	} {
		steps = append(steps, resource.TestStep{
			Config: mirrorConfig(tc.body, src), PlanOnly: true,
			ExpectError: regexp.MustCompile(`(?s)` + strings.ReplaceAll(strings.ReplaceAll(regexp.QuoteMeta(tc.want), `\.\*`, `.*`), " ", `\s+`)),
		})
	}
	resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: testProviders, Steps: steps})
}

// TestAccGuide_airGappedTwoHops applies the two configurations of the guide "Air-gapped
// mirroring in two hops" one after the other: the connected side fills a layout from a
// registry, the disconnected side pushes from the layout into another registry, which ends
// with the original digest.
func TestAccGuide_airGappedTwoHops(t *testing.T) {
	t.Parallel()
	upstream, internal := registrytest.Start(t), registrytest.Start(t)
	raw := pushHandWrittenIndex(t, upstream, "app/web:1.0", types.OCIImageIndex)
	digest := sha256Of(raw)
	single := registrytest.PushImage(t, upstream.Ref("tools/cli:2.1"), testImages[0], types.OCIManifestSchema1)
	images := config.ListVariable(config.StringVariable(upstream.Ref("app/web:1.0")), config.StringVariable(upstream.Ref("tools/cli:2.1")))
	dir := filepath.Join(t.TempDir(), "transfer", "images")
	hop := func(side string) string {
		b, err := os.ReadFile(filepath.Join(examplesDir, "guides", "air-gapped", side, "main.tf"))
		if err != nil {
			t.Fatal(err)
		}
		// The harness serves the provider itself; the example's terraform block names where a
		// reader's Terraform installs it from.
		return terraformBlock.ReplaceAllString(string(b), "")
	}
	carried := filepath.Join(t.TempDir(), "usb", "images") // the copy that crosses the air gap
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: hop("connected"),
			ConfigVariables: config.Variables{
				"images": images, "layout_dir": config.StringVariable(dir),
				"insecure_registries": config.ListVariable(config.StringVariable(upstream.Host)),
			},
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownOutputValue("digests", knownvalue.MapExact(map[string]knownvalue.Check{
					upstream.Ref("app/web:1.0"):   knownvalue.StringExact(digest),
					upstream.Ref("tools/cli:2.1"): knownvalue.StringExact(single.Digest.String()),
				})),
				stateFunc(func(*tfjson.State) error {
					if err := checkLayout(t, dir, map[string]string{upstream.Ref("app/web:1.0"): digest, upstream.Ref("tools/cli:2.1"): single.Digest.String()})(nil); err != nil {
						return err
					}
					return os.CopyFS(carried, os.DirFS(dir))
				}),
			},
		}},
	})
	// the connected side's destroy removed both entries and every blob
	if err := checkLayout(t, dir, map[string]string{})(nil); err != nil {
		t.Error(err)
	}
	if blobs, _ := os.ReadDir(filepath.Join(dir, "blobs", "sha256")); len(blobs) != 0 {
		t.Errorf("%d blobs left in the layout after destroy", len(blobs))
	}
	upstream.Stop() // the disconnected side cannot reach it

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: hop("disconnected"),
			ConfigVariables: config.Variables{
				"images": images, "layout_dir": config.StringVariable(carried),
				"registry":            config.StringVariable(internal.Host),
				"insecure_registries": config.ListVariable(config.StringVariable(internal.Host)),
			},
			ConfigStateChecks: []statecheck.StateCheck{stateFunc(func(s *tfjson.State) error {
				refs := map[string]string{}
				for _, o := range []string{"refs"} {
					for k, v := range s.Values.Outputs[o].Value.(map[string]any) {
						refs[k] = fmt.Sprint(v)
					}
				}
				for key, want := range map[string]string{upstream.Ref("app/web:1.0"): digest, upstream.Ref("tools/cli:2.1"): single.Digest.String()} {
					ref := refs[key]
					if !strings.HasPrefix(ref, internal.Host+"/") || !strings.HasSuffix(ref, "@"+want) {
						return fmt.Errorf("%s: ref %q, want %s/…@%s (have %v)", key, ref, internal.Host, want, refs)
					}
					got, _ := registrytest.Fetch(t, strings.TrimSuffix(ref, "@"+want))
					if sha256Of(got) != want {
						return fmt.Errorf("%s serves %s, want %s", ref, sha256Of(got), want)
					}
					if key == upstream.Ref("app/web:1.0") && string(got) != string(raw) {
						return fmt.Errorf("%s serves other bytes than the upstream index", ref)
					}
				}
				return nil
			})},
		}},
	})
}

// stateFunc is a state check written as a function.
type stateFunc func(*tfjson.State) error

func (f stateFunc) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	resp.Error = f(req.State)
}

var terraformBlock = regexp.MustCompile(`(?ms)^terraform \{\n.*?^\}\n`)
