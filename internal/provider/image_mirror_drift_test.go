package provider

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	tfjson "github.com/hashicorp/terraform-json"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/zarf-dev/terraform-provider-zarf/internal/mirror"
	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
)

// Each drift test mirrors the hand-written index app/web:1.0 to mirror/web, changes the target
// (or the source) behind Terraform's back in PreConfig, expects a plan that repairs it, applies
// that plan and compares the target's bytes with the source's, then expects an empty plan. The
// harness itself also fails a step whose post-apply plans are not empty, so the state after
// apply equals the plan.

// driftFixture is a mirrored index and what the drift tests need of it.
type driftFixture struct {
	src, dst *registrytest.Registry
	raw      []byte // the source index bytes
	digest   string
	index    v1.IndexManifest
	config   string
}

func newDriftFixture(t *testing.T) *driftFixture {
	t.Helper()
	f := &driftFixture{src: registrytest.Start(t), dst: registrytest.Start(t)}
	f.raw = pushHandWrittenIndex(t, f.src, "app/web:1.0", types.OCIImageIndex)
	f.digest = sha256Of(f.raw)
	if err := json.Unmarshal(f.raw, &f.index); err != nil {
		t.Fatal(err)
	}
	f.config = mirrorConfig(fmt.Sprintf("source = %q\ntarget = %q", f.src.Ref("app/web:1.0"), f.dst.Ref("mirror/web")), f.src, f.dst)
	return f
}

// target is the target reference of path below the mirror repository, e.g. ":1.0" or "@sha256:…".
func (f *driftFixture) target(suffix string) string { return f.dst.Ref("mirror/web" + suffix) }

// repaired checks that the target holds every copied manifest again, byte for byte.
func (f *driftFixture) repaired(t *testing.T) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if err := checkSameBytes(t, f.target(":1.0"), f.raw, types.OCIImageIndex)(nil); err != nil {
			return err
		}
		for _, d := range f.index.Manifests {
			want, _ := registrytest.Fetch(t, f.src.Ref("app/web@"+d.Digest.String()))
			if err := checkSameBytes(t, f.target("@"+d.Digest.String()), want, d.MediaType)(nil); err != nil {
				return err
			}
		}
		return nil
	}
}

// attestation returns the index entry of the attestation about the image of platform.
func (f *driftFixture) attestation(t *testing.T, platform string) v1.Descriptor {
	t.Helper()
	img := f.entry(t, platform)
	for _, d := range f.index.Manifests {
		if d.Annotations[registrytest.AnnotationReferenceDigest] == img.Digest.String() {
			return d
		}
	}
	t.Fatalf("no attestation for %s", platform)
	return v1.Descriptor{}
}

// entry returns the index entry of the image of platform ("os/arch[/variant]").
func (f *driftFixture) entry(t *testing.T, platform string) v1.Descriptor {
	t.Helper()
	for _, d := range f.index.Manifests {
		if d.Platform != nil && d.Platform.String() == platform {
			return d
		}
	}
	t.Fatalf("the fixture index lists no %s", platform)
	return v1.Descriptor{}
}

// otherIndex pushes an index with other content to ref and returns its digest.
func otherIndex(t *testing.T, ref string) string {
	t.Helper()
	d := registrytest.PushIndex(t, ref, registrytest.IndexSpec{Images: []registrytest.ImageSpec{
		{Platform: "linux/amd64", Layers: []int64{512}, Seed: 99},
	}})
	return d.Digest.String()
}

func TestAccImageMirror_driftTagOverwritten(t *testing.T) {
	t.Parallel()
	f := newDriftFixture(t)
	var other string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{Config: f.config},
			{
				// Someone pushes another index to the tag; the mirrored index is still there.
				PreConfig: func() { other = otherIndex(t, f.target(":1.0")) },
				Config:    f.config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectNonEmptyPlan(),
					plancheck.ExpectResourceAction(mirrorAddr, plancheck.ResourceActionUpdate),
					expectRefreshDrift(mirrorAddr, "digest", f.digest, func() any { return other }),
					expectPlannedChange(mirrorAddr, "digest", func() any { return other }, f.digest),
					expectPlannedChange(mirrorAddr, "ref", func() any { return f.target(":1.0@" + other) }, f.target(":1.0@"+f.digest)),
				}},
				Check: f.repaired(t),
			},
			{
				Config:           f.config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{
				// Again, and this time the mirrored index is deleted as well: apply pushes it again.
				PreConfig: func() {
					other = otherIndex(t, f.target(":1.0"))
					registrytest.Delete(t, f.target("@"+f.digest))
				},
				Config: f.config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectNonEmptyPlan(),
					plancheck.ExpectResourceAction(mirrorAddr, plancheck.ResourceActionUpdate),
					expectPlannedChange(mirrorAddr, "digest", func() any { return other }, f.digest),
				}},
				Check: f.repaired(t),
			},
			{
				Config:           f.config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

func TestAccImageMirror_driftTagDeleted(t *testing.T) {
	t.Parallel()
	f := newDriftFixture(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{Config: f.config},
			{
				// The tag is deleted; the index stays (distribution deletes a tag alone).
				PreConfig: func() {
					registrytest.Delete(t, f.target(":1.0"))
					if !registrytest.Exists(t, f.target("@"+f.digest)) {
						t.Fatal("deleting the tag deleted the index")
					}
				},
				Config: f.config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectNonEmptyPlan(),
					plancheck.ExpectResourceAction(mirrorAddr, plancheck.ResourceActionCreate),
					expectRefreshGone(mirrorAddr),
					plancheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("ref"), knownvalue.StringExact(f.target(":1.0@"+f.digest))),
				}},
				Check: f.repaired(t),
			},
			{
				Config:           f.config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

func TestAccImageMirror_driftIndexDeleted(t *testing.T) {
	t.Parallel()
	f := newDriftFixture(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{Config: f.config},
			{
				// The index is deleted by digest, and with it the tag.
				PreConfig: func() {
					registrytest.Delete(t, f.target("@"+f.digest))
					if registrytest.Exists(t, f.target(":1.0")) {
						t.Fatal("the tag survived the deletion of its index")
					}
				},
				Config: f.config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectNonEmptyPlan(),
					plancheck.ExpectResourceAction(mirrorAddr, plancheck.ResourceActionCreate),
					expectRefreshGone(mirrorAddr),
					plancheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("digest"), knownvalue.StringExact(f.digest)),
				}},
				Check: f.repaired(t),
			},
			{
				Config:           f.config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

func TestAccImageMirror_driftChildDeleted(t *testing.T) {
	t.Parallel()
	f := newDriftFixture(t)
	var arm64, amd64Att v1.Descriptor
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{Config: f.config},
			{
				// An image manifest and an attestation manifest are deleted; the index and its tag
				// stay.
				PreConfig: func() {
					arm64, amd64Att = f.entry(t, "linux/arm64/v8"), f.attestation(t, "linux/amd64")
					registrytest.Delete(t, f.target("@"+arm64.Digest.String()))
					registrytest.Delete(t, f.target("@"+amd64Att.Digest.String()))
					if !registrytest.Exists(t, f.target(":1.0")) {
						t.Fatal("deleting a child deleted the tag")
					}
				},
				Config: f.config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectNonEmptyPlan(),
					plancheck.ExpectResourceAction(mirrorAddr, plancheck.ResourceActionUpdate),
					// manifests lost linux/arm64/v8 in the refresh; size lost both manifests.
					expectRefreshDrift(mirrorAddr, "manifests", listOfLen(len(testImages)), listOfLen(len(testImages)-1)),
					expectRefreshDrift(mirrorAddr, "size", nil, func(before any) any {
						return before.(float64) - float64(arm64.Size+amd64Att.Size)
					}),
					plancheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("manifests"), knownvalue.ListSizeExact(len(testImages))),
					expectPlanKeeps(mirrorAddr, "digest", "ref", "source_digest"),
				}},
				Check: f.repaired(t),
			},
			{
				Config:           f.config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{
				// Only an attestation is deleted: size is then the one attribute that changes, and the
				// warning names the manifest.
				PreConfig: func() { registrytest.Delete(t, f.target("@"+amd64Att.Digest.String())) },
				Config:    f.config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectNonEmptyPlan(),
					plancheck.ExpectResourceAction(mirrorAddr, plancheck.ResourceActionUpdate),
					expectRefreshDrift(mirrorAddr, "size", nil, func(before any) any { return before.(float64) - float64(amd64Att.Size) }),
					expectPlanKeeps(mirrorAddr, "digest", "ref", "manifests"),
				}},
				Check: f.repaired(t),
			},
			{
				Config:           f.config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

func TestAccImageMirror_driftSourceMoved(t *testing.T) {
	t.Parallel()
	f := newDriftFixture(t)
	var moved string
	var movedRaw []byte
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{Config: f.config},
			{
				// Upstream, the source tag now points at a new index.
				PreConfig: func() {
					d := registrytest.PushIndex(t, f.src.Ref("app/web:1.0"), registrytest.IndexSpec{
						Images: []registrytest.ImageSpec{testImages[0], {Platform: "linux/riscv64", Layers: []int64{900}, Seed: 5}}, Attestations: true,
					})
					moved = d.Digest.String()
					movedRaw, _ = registrytest.Fetch(t, f.src.Ref("app/web:1.0"))
				},
				Config: f.config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectNonEmptyPlan(),
					plancheck.ExpectResourceAction(mirrorAddr, plancheck.ResourceActionUpdate),
					expectPlannedChange(mirrorAddr, "source_digest", f.digest, func() any { return moved }),
					expectPlannedChange(mirrorAddr, "digest", f.digest, func() any { return moved }),
					expectPlannedChange(mirrorAddr, "ref", f.target(":1.0@"+f.digest), func() any { return f.target(":1.0@" + moved) }),
					plancheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("manifests"), knownvalue.ListExact([]knownvalue.Check{
						platformIs("linux/amd64"), platformIs("linux/riscv64"),
					})),
				}},
				Check: func(s *terraform.State) error {
					return checkSameBytes(t, f.target(":1.0"), movedRaw, types.OCIImageIndex)(s)
				},
			},
			{
				Config:           f.config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

// TestAccImageMirror_driftNoneHeadOnly counts the requests that reach the target, through a
// proxy, while nothing drifted: refresh and plan send HEAD requests only, one for the tag and
// one per copied manifest, and no GET of a manifest or blob.
func TestAccImageMirror_driftNoneHeadOnly(t *testing.T) {
	t.Parallel()
	src, dst := registrytest.Start(t), registrytest.Start(t)
	proxy := registrytest.NewProxy(t, dst)
	raw := pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	var index v1.IndexManifest
	if err := json.Unmarshal(raw, &index); err != nil {
		t.Fatal(err)
	}
	config := mirrorWith(providerBlock{insecure: []string{src.Host, proxy.Host}}, src.Ref("app/web:1.0"), proxy.Ref("mirror/web"))
	noReads := func(when string) error {
		counts := proxy.Counts()
		t.Logf("requests to the target %s: %v", when, counts)
		for call, n := range counts {
			if call.Method != http.MethodHead && (call.Kind == registrytest.KindManifest || call.Kind == registrytest.KindBlob) {
				return fmt.Errorf("%s: %d %s requests for a %s reached the target; want HEAD only (all: %v)", when, n, call.Method, call.Kind, counts)
			}
			if call.Method != http.MethodHead && call.Method != http.MethodGet {
				return fmt.Errorf("%s: %d %s %s requests reached the target (all: %v)", when, n, call.Method, call.Kind, counts)
			}
		}
		return nil
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{Config: config},
			{
				PreConfig: proxy.Reset,
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
					planFuncCheck(func(*tfjson.Plan) error {
						if err := noReads("during one refresh and plan"); err != nil {
							return err
						}
						// One HEAD for the tag, one per child manifest (images and attestations).
						if got, want := proxy.Count(http.MethodHead, registrytest.KindManifest), 1+len(index.Manifests); got != want {
							return fmt.Errorf("one refresh and plan sent %d HEAD requests for manifests, want %d", got, want)
						}
						return nil
					}),
				}},
				// The apply of the empty plan refreshes and plans again, with HEAD requests only.
				Check: func(*terraform.State) error { return noReads("during the plan and the empty apply") },
			},
			{
				// The harness's post-apply plans of the step before.
				PreConfig: func() {
					if err := noReads("during the post-apply plans"); err != nil {
						t.Fatal(err)
					}
				},
				Config:           config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

// TestAccImageMirror_detailedExitCode runs the real terraform binary against a provider binary
// built from this module, as a CI drift check does: `terraform plan -detailed-exitcode` exits 0
// while nothing drifted, 2 after each kind of drift (with the plan saying what drifted), 0 again
// after `terraform apply` repaired it, and 1 when the target cannot be reached.
func TestAccImageMirror_detailedExitCode(t *testing.T) {
	tf := newTerraformCLI(t)
	t.Parallel()
	f := newDriftFixture(t)
	work := t.TempDir()
	writeFile(t, filepath.Join(work, "main.tf"), requiredProviders+
		strings.Replace(f.config, "insecure_registries", "max_retries = 0\n  insecure_registries", 1))

	terraform := func(want int, args ...string) string {
		t.Helper()
		return tf.expect(t, work, want, args...)
	}
	plan := func(want int, phrases ...string) {
		t.Helper()
		out := terraform(want, "plan", "-detailed-exitcode")
		says(t, out, phrases...)
		if want == 2 {
			t.Logf("plan output:\n%s", out)
		}
	}
	repair := func() {
		t.Helper()
		terraform(0, "apply", "-auto-approve")
		if err := f.repaired(t)(nil); err != nil {
			t.Fatal(err)
		}
		plan(0, "No changes.")
	}

	terraform(0, "apply", "-auto-approve")
	plan(0, "No changes.")

	other := otherIndex(t, f.target(":1.0"))
	plan(2, "Warning: Target drifted from the mirror",
		fmt.Sprintf("the tag 1.0 points at %s instead of %s, which is still there", other, f.digest),
		"a change of digest and ref back to what the mirror holds",
		fmt.Sprintf(`~ digest = "%s" -> "%s"`, other, f.digest),
		"1 to change")
	repair()

	arm64 := f.entry(t, "linux/arm64/v8")
	registrytest.Delete(t, f.target("@"+arm64.Digest.String()))
	plan(2, "Warning: Target drifted from the mirror",
		fmt.Sprintf("the image manifest for linux/arm64/v8 %s is missing", arm64.Digest),
		"a change of manifests and size", "1 to change")
	repair()

	registrytest.Delete(t, f.target(":1.0"))
	plan(2, "Warning: Mirror gone from the target",
		fmt.Sprintf("the tag 1.0 no longer exists (the manifest %s is still there)", f.digest),
		"will be created", "1 to add")
	repair()

	moved := registrytest.PushIndex(t, f.src.Ref("app/web:1.0"), registrytest.IndexSpec{Images: testImages[:2]}).Digest.String()
	plan(2, fmt.Sprintf(`~ source_digest = "%s" -> "%s"`, f.digest, moved), "1 to change")
	terraform(0, "apply", "-auto-approve")
	plan(0, "No changes.")

	f.dst.Stop()
	plan(1, "Error: Cannot check the target")
}

func TestReportDrift(t *testing.T) {
	t.Parallel()
	amd64 := mirror.Manifest{Platform: "linux/amd64", Digest: "sha256:a1", MediaType: string(types.OCIManifestSchema1), Size: 500}
	arm64 := mirror.Manifest{Platform: "linux/arm64", Digest: "sha256:a2", MediaType: string(types.OCIManifestSchema1), Size: 400}
	att := mirror.Manifest{Digest: "sha256:a3", MediaType: string(types.OCIManifestSchema1), Size: 300}
	top := mirror.Manifest{Digest: "sha256:top", MediaType: string(types.OCIImageIndex), Size: 1000}
	rec := mirror.Record{
		SourceDigest: top.Digest, Digest: top.Digest, Repository: "r.example/mirror/web", Tag: "1.0",
		Manifests: []mirror.Manifest{amd64, arm64}, Children: []mirror.Manifest{amd64, arm64, att}, Size: 10_000,
	}
	for _, c := range []struct {
		name    string
		drift   mirror.Drift
		digest  string
		size    int64
		kept    int
		phrases []string
	}{
		{name: "none", drift: mirror.Drift{Current: top.Digest}, digest: top.Digest, size: 10_000, kept: 2},
		{
			name: "tag moved", drift: mirror.Drift{Current: "sha256:other"}, digest: "sha256:other", size: 10_000, kept: 2,
			phrases: []string{"At r.example/mirror/web: the tag 1.0 points at sha256:other instead of sha256:top, which is still there.",
				"a change of digest and ref back"},
		},
		{
			name: "tag moved, index gone", drift: mirror.Drift{Current: "sha256:other", IndexMissing: true}, digest: "sha256:other", size: 10_000, kept: 2,
			phrases: []string{"instead of sha256:top, which is gone as well."},
		},
		{
			name: "image and attestation missing", drift: mirror.Drift{Current: top.Digest, MissingManifests: []string{arm64.Digest, att.Digest}},
			digest: top.Digest, size: 10_000 - 400 - 300, kept: 1,
			phrases: []string{"the image manifest for linux/arm64 sha256:a2 is missing; the manifest without a platform (an attestation or artifact) sha256:a3 is missing.",
				"a change of manifests and size back"},
		},
		{
			name: "attestation missing", drift: mirror.Drift{Current: top.Digest, MissingManifests: []string{att.Digest}},
			digest: top.Digest, size: 10_000 - 300, kept: 2,
			phrases: []string{"sha256:a3 is missing.", "a change of size back"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			var state imageMirrorModel
			if d := state.setComputed(rec.WithDrift(&c.drift)); d.HasError() {
				t.Fatal(d)
			}
			var diags diag.Diagnostics
			reportDrift(rec, &c.drift, &diags)
			if diags.HasError() {
				t.Fatal(diags)
			}
			if state.Digest.ValueString() != c.digest || state.Size.ValueInt64() != c.size || len(state.Manifests.Elements()) != c.kept {
				t.Errorf("state digest %s, size %d, %d manifests; want %s, %d, %d",
					state.Digest.ValueString(), state.Size.ValueInt64(), len(state.Manifests.Elements()), c.digest, c.size, c.kept)
			}
			if want := "r.example/mirror/web:1.0@" + c.digest; state.Ref.ValueString() != want {
				t.Errorf("ref %s, want %s", state.Ref.ValueString(), want)
			}
			if len(c.phrases) == 0 {
				if len(diags) != 0 {
					t.Errorf("warnings without drift: %v", diags)
				}
				return
			}
			if len(diags) != 1 || diags[0].Summary() != "Target drifted from the mirror" {
				t.Fatalf("diagnostics %v, want one drift warning", diags)
			}
			for _, p := range c.phrases {
				if !strings.Contains(diags[0].Detail(), p) {
					t.Errorf("warning %q does not say %q", diags[0].Detail(), p)
				}
			}
		})
	}
}

func TestGoneDetail(t *testing.T) {
	t.Parallel()
	rec := mirror.Record{Digest: "sha256:top", Repository: "r.example/mirror/web", Tag: "1.0"}
	untagged := rec
	untagged.Tag = ""
	for _, c := range []struct {
		rec   mirror.Record
		drift mirror.Drift
		want  string
	}{
		{rec, mirror.Drift{Gone: true}, "At r.example/mirror/web: the tag 1.0 no longer exists (the manifest sha256:top is still there)."},
		{rec, mirror.Drift{Gone: true, IndexMissing: true}, "At r.example/mirror/web: the tag 1.0 and the manifest sha256:top it pointed at no longer exist."},
		{untagged, mirror.Drift{Gone: true, IndexMissing: true}, "At r.example/mirror/web: the manifest sha256:top no longer exists."},
	} {
		if got := goneDetail(c.rec, &c.drift); !strings.HasPrefix(got, c.want) || !strings.HasSuffix(got, "so the plan creates it again.") {
			t.Errorf("goneDetail(%+v) = %q, want it to start with %q", c.drift, got, c.want)
		}
	}
}
