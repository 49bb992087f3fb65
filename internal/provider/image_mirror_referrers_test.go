package provider

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	tfjson "github.com/hashicorp/terraform-json"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	fwtypes "github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/zarf-dev/terraform-provider-zarf/internal/mirror"
	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
)

// exampleSBOM is the artifact type of the SBOMs these tests push.
const exampleSBOM = "application/vnd.example.sbom"

// pushCosign pushes to repo a cosign signature (".sig") or attestation (".att") of subject under
// its cosign tag, and returns the manifest bytes.
func pushCosign(t *testing.T, repo, subject, suffix string) []byte {
	return registrytest.At(t, repo).Cosign(subject, suffix).Raw
}

// pushSBOM pushes to repo an OCI 1.1 SBOM artifact whose subject is the manifest d, and returns
// its bytes.
func pushSBOM(t *testing.T, repo string, d v1.Descriptor) []byte {
	return registrytest.At(t, repo).Artifact(exampleSBOM, d, `{"spdxVersion":"SPDX-2.3","name":"`+d.Digest.String()+`"}`).Raw
}

// referrerIs checks one element of copied_referrers; tag "" is a null tag (an OCI referrer).
func referrerIs(raw []byte, artifactType, subject, tag string) knownvalue.Check {
	var tagCheck knownvalue.Check = knownvalue.Null()
	if tag != "" {
		tagCheck = knownvalue.StringExact(tag)
	}
	return knownvalue.ObjectExact(map[string]knownvalue.Check{
		"digest": knownvalue.StringExact(sha256Of(raw)), "artifact_type": knownvalue.StringExact(artifactType),
		"subject": knownvalue.StringExact(subject), "tag": tagCheck,
	})
}

// TestAccImageMirrorReferrers mirrors an index with referrers = true to a distribution registry
// (no referrers API: fallback tags) and to go-containerregistry's registry (referrers API). The
// source, a distribution registry, has BuildKit attestation entries in the index, cosign
// signatures of the index and of the amd64 image, and SBOM artifacts (OCI 1.1, subject) of the
// arm64 and s390x images.
func TestAccImageMirrorReferrers(t *testing.T) {
	if os.Getenv(resource.EnvTfAcc) == "" {
		t.Skipf("acceptance test: set %s=1", resource.EnvTfAcc)
	}
	t.Parallel()
	for _, impl := range registrytest.Implementations() {
		if impl.Name != "distribution-v3-all" && impl.Name != "ggcr" {
			continue
		}
		t.Run(impl.Name, func(t *testing.T) {
			t.Parallel()
			testMirrorReferrers(t, impl)
		})
	}
}

func testMirrorReferrers(t *testing.T, impl registrytest.Implementation) {
	dst := impl.Start(t)
	src := registrytest.Start(t)
	raw := pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	digest := sha256Of(raw)
	var index v1.IndexManifest
	if err := json.Unmarshal(raw, &index); err != nil {
		t.Fatal(err)
	}
	images := map[string]v1.Descriptor{}
	for _, d := range index.Manifests[:len(testImages)] {
		images[d.Platform.OS+"/"+d.Platform.Architecture] = d
	}
	amd64, arm64, s390x := images["linux/amd64"], images["linux/arm64"], images["linux/s390x"]
	repo := src.Ref("app/web")
	sigTop := pushCosign(t, repo, digest, ".sig")
	sigAMD := pushCosign(t, repo, amd64.Digest.String(), ".sig")
	sbomARM := pushSBOM(t, repo, arm64)
	sbomS390X := pushSBOM(t, repo, s390x)
	attARM := registrytest.At(t, repo).CosignManifest(arm64.Digest.String(), ".att").Raw // pushed (tagged) in step 3

	config := func(extra string) string {
		return providerConfig(src, dst) + fmt.Sprintf(`
resource "zarf_image_mirror" "test" {
  source    = %q
  target    = %q
  referrers = true
  %s
}

resource "zarf_image_mirror" "plain" {
  source = %q
  target = %q
}
`, src.Ref("app/web:1.0"), dst.Ref("mirror/web"), extra, src.Ref("app/web:1.0"), dst.Ref("mirror/plain"))
	}
	target := dst.Ref("mirror/web")
	all := []knownvalue.Check{
		referrerIs(sigAMD, registrytest.CosignSimpleSigning, amd64.Digest.String(), registrytest.CosignTag(amd64.Digest.String(), ".sig")),
		referrerIs(sbomARM, exampleSBOM, arm64.Digest.String(), ""),
		referrerIs(sbomS390X, exampleSBOM, s390x.Digest.String(), ""),
		referrerIs(sigTop, registrytest.CosignSimpleSigning, digest, registrytest.CosignTag(digest, ".sig")),
	}
	// checkTarget checks that clients find the referrers at the target, byte for byte.
	checkTarget := func(cosign map[string][]byte, oci map[string][][]byte) resource.TestCheckFunc {
		return func(*terraform.State) error {
			for tag, want := range cosign {
				if err := checkSameBytes(t, target+":"+tag, want, types.OCIManifestSchema1)(nil); err != nil {
					return err
				}
			}
			for subject, wants := range oci {
				listed := registrytest.Referrers(t, target, subject)
				for _, want := range wants {
					if !slices.Contains(listed, sha256Of(want)) {
						return fmt.Errorf("%s lists %v as referrers of %s, not %s", target, listed, subject, sha256Of(want))
					}
					if err := checkSameBytes(t, target+"@"+sha256Of(want), want, types.OCIManifestSchema1)(nil); err != nil {
						return err
					}
				}
				fallback := registrytest.Exists(t, target+":"+registrytest.CosignTag(subject, ""))
				if fallback == impl.Caps.ReferrersAPI {
					return fmt.Errorf("%s (referrers API %t): fallback tag of %s exists = %t", dst.Name, impl.Caps.ReferrersAPI, subject, fallback)
				}
			}
			return nil
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				// Every referrer travels; size and manifests are those of the mirror without
				// referrers (BuildKit attestations included in size, not listed).
				Config: config(""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("copied_referrers"), knownvalue.ListExact(all)),
					plancheck.ExpectKnownValue("zarf_image_mirror.plain", tfjsonpath.New("copied_referrers"), knownvalue.ListSizeExact(0)),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("copied_referrers"), knownvalue.ListExact(all)),
					statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("manifests"), knownvalue.ListSizeExact(len(testImages))),
					statecheck.CompareValuePairs(mirrorAddr, tfjsonpath.New("size"), "zarf_image_mirror.plain", tfjsonpath.New("size"), compare.ValuesSame()),
				},
				Check: resource.ComposeTestCheckFunc(
					checkSameBytes(t, target+":1.0", raw, types.OCIImageIndex),
					checkTarget(
						map[string][]byte{registrytest.CosignTag(digest, ".sig"): sigTop, registrytest.CosignTag(amd64.Digest.String(), ".sig"): sigAMD},
						map[string][][]byte{arm64.Digest.String(): {sbomARM}, s390x.Digest.String(): {sbomS390X}}),
					func(*terraform.State) error {
						if registrytest.Exists(t, dst.Ref("mirror/plain:"+registrytest.CosignTag(digest, ".sig"))) {
							return fmt.Errorf("referrers = false copied the index signature")
						}
						return nil
					},
				),
			},
			{
				// A signature deleted at the target: refresh notices it, the plan repairs it.
				PreConfig: func() {
					if impl.Caps.ReferrersAPI { // go-containerregistry's registry deletes the tag alone
						registrytest.Delete(t, target+":"+registrytest.CosignTag(amd64.Digest.String(), ".sig"))
					} else { // distribution deletes the manifest and its tags
						registrytest.Delete(t, target+"@"+sha256Of(sigAMD))
					}
				},
				Config: config(""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(mirrorAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("zarf_image_mirror.plain", plancheck.ResourceActionNoop),
					plancheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("copied_referrers"), knownvalue.ListExact(all)),
				}},
				Check: checkTarget(map[string][]byte{registrytest.CosignTag(amd64.Digest.String(), ".sig"): sigAMD}, nil),
			},
			{
				// A new attestation at the source: the plan proposes to copy it.
				PreConfig: func() {
					registrytest.PushRaw(t, repo+":"+registrytest.CosignTag(arm64.Digest.String(), ".att"), types.OCIManifestSchema1, attARM)
				},
				Config: config(""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(mirrorAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("copied_referrers"), knownvalue.ListExact([]knownvalue.Check{
						all[0], all[1],
						referrerIs(attARM, registrytest.DSSEEnvelope, arm64.Digest.String(), registrytest.CosignTag(arm64.Digest.String(), ".att")),
						all[2], all[3],
					})),
				}},
				Check: checkTarget(map[string][]byte{registrytest.CosignTag(arm64.Digest.String(), ".att"): attARM}, nil),
			},
			{
				// A platform subset as a new index keeps exactly the referrers of what it keeps:
				// not those of the source index (the target index is new), arm64 or s390x.
				Config: config("platforms = [\"linux/amd64\"]\n  index_mode = \"filter\""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(mirrorAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("copied_referrers"), knownvalue.ListExact(all[:1])),
				}},
			},
		},
	})
}

// TestAccImageMirrorReferrersSubset mirrors two platforms of an index into a fresh target in
// filter mode: only the referrers of the copied images travel. A signature that appears between
// plan and apply stops the apply (Terraform's re-plan at apply time sees it) before anything is
// copied; the next plan copies it.
func TestAccImageMirrorReferrersSubset(t *testing.T) {
	if os.Getenv(resource.EnvTfAcc) == "" {
		t.Skipf("acceptance test: set %s=1", resource.EnvTfAcc)
	}
	t.Parallel()
	src, dst := registrytest.Start(t), registrytest.Start(t)
	raw := pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	var index v1.IndexManifest
	if err := json.Unmarshal(raw, &index); err != nil {
		t.Fatal(err)
	}
	repo := src.Ref("app/web")
	amd64, s390x := index.Manifests[0], index.Manifests[3]
	sigTop := pushCosign(t, repo, sha256Of(raw), ".sig")
	sigAMD := pushCosign(t, repo, amd64.Digest.String(), ".sig")
	sbomS390X := pushSBOM(t, repo, s390x)
	attAMD := registrytest.At(t, repo).CosignManifest(amd64.Digest.String(), ".att").Raw
	target := dst.Ref("mirror/web")
	config := mirrorConfig(fmt.Sprintf("source = %q\ntarget = %q\nreferrers = true\nplatforms = [\"linux/amd64\", \"linux/arm64\"]\nindex_mode = \"filter\"",
		src.Ref("app/web:1.0"), target), src, dst)
	sigCheck := referrerIs(sigAMD, registrytest.CosignSimpleSigning, amd64.Digest.String(), registrytest.CosignTag(amd64.Digest.String(), ".sig"))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("copied_referrers"), knownvalue.ListExact([]knownvalue.Check{sigCheck})),
					planFuncCheck(func(*tfjson.Plan) error {
						// After the plan is saved and before it is applied, the image gets an attestation.
						registrytest.PushRaw(t, repo+":"+registrytest.CosignTag(amd64.Digest.String(), ".att"), types.OCIManifestSchema1, attAMD)
						return nil
					}),
				}},
				ExpectError: regexp.MustCompile(`Provider produced inconsistent final plan`),
			},
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("copied_referrers"), knownvalue.ListExact([]knownvalue.Check{
						sigCheck,
						referrerIs(attAMD, registrytest.DSSEEnvelope, amd64.Digest.String(), registrytest.CosignTag(amd64.Digest.String(), ".att")),
					})),
				},
				Check: func(*terraform.State) error {
					if err := checkSameBytes(t, target+":"+registrytest.CosignTag(amd64.Digest.String(), ".sig"), sigAMD, types.OCIManifestSchema1)(nil); err != nil {
						return err
					}
					for _, r := range [][]byte{sigTop, sbomS390X} {
						if registrytest.Exists(t, target+"@"+sha256Of(r)) {
							return fmt.Errorf("%s, a referrer of something not copied, was copied", sha256Of(r))
						}
					}
					return nil
				},
			},
		},
	})
}

// TestCopy_pinsPlannedReferrers: apply copies the referrers the plan showed, even when more
// appeared at the source after the final plan (the next plan then finds them); a planned one that
// is gone from the source stops the apply.
func TestCopy_pinsPlannedReferrers(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t)
	r := testResource(t, reg.Host)
	raw := pushHandWrittenIndex(t, reg, "app/web:1.0", types.OCIImageIndex)
	repo, digest := reg.Ref("app/web"), sha256Of(raw)
	sig := pushCosign(t, repo, digest, ".sig")
	model := planModel(t, reg.Ref("app/web:1.0"), reg.Ref("mirror/web"), nil, mirror.ModePreserve)
	model.Referrers = fwtypes.BoolValue(true)
	resp, plan := modifyPlan(t, r, model, nil)
	if resp.Diagnostics.HasError() {
		t.Fatal(diagTexts(resp.Diagnostics))
	}
	if n := len(plan.CopiedReferrers.Elements()); n != 1 {
		t.Fatalf("planned %d referrers, want the index signature", n)
	}
	pushCosign(t, repo, digest, ".att")

	var diags diag.Diagnostics
	rec, ok := r.copy(t.Context(), &plan, &diags)
	if !ok {
		t.Fatal(diagTexts(diags))
	}
	if len(rec.Referrers) != 1 || rec.Referrers[0].Digest != sha256Of(sig) {
		t.Fatalf("copied %+v, planned only the signature %s", rec.Referrers, sha256Of(sig))
	}
	if registrytest.Exists(t, reg.Ref("mirror/web:"+registrytest.CosignTag(digest, ".att"))) {
		t.Error("the attestation that appeared after the plan was copied")
	}
	spec, _, _ := plan.spec(t.Context())
	if _, inspected, err := r.engine.Replan(t.Context(), spec, &rec); err != nil || !inspected {
		t.Errorf("the next plan does not notice the new attestation: inspected = %t, %v", inspected, err)
	}

	registrytest.Delete(t, repo+"@"+sha256Of(sig))
	diags = nil
	if _, ok := r.copy(t.Context(), &plan, &diags); ok || !strings.Contains(strings.Join(diagTexts(diags), " "), "run terraform plan again") {
		t.Fatalf("copying a planned signature that is gone from the source: %v", diagTexts(diags))
	}
}

func TestReportReferrerDrift(t *testing.T) {
	t.Parallel()
	sig := mirror.Referrer{Digest: "sha256:s1", ArtifactType: registrytest.CosignSimpleSigning, Subject: "sha256:a1", Tag: "sha256-a1.sig"}
	sbom := mirror.Referrer{Digest: "sha256:s2", ArtifactType: exampleSBOM, Subject: "sha256:a2"}
	rec := mirror.Record{Digest: "sha256:top", Repository: "r.example/mirror/web", Tag: "1.0", Referrers: []mirror.Referrer{sig, sbom}}
	var state imageMirrorModel
	read := func(d *mirror.Drift, diags *diag.Diagnostics) {
		t.Helper()
		if d := state.setComputed(rec.WithDrift(d)); d.HasError() {
			t.Fatal(d)
		}
		reportReferrerDrift(rec, d, diags)
	}
	var diags diag.Diagnostics
	read(&mirror.Drift{Current: rec.Digest}, &diags)
	if len(diags) != 0 || len(state.CopiedReferrers.Elements()) != 2 {
		t.Fatalf("without drift: %v, %d referrers", diags, len(state.CopiedReferrers.Elements()))
	}
	read(&mirror.Drift{Current: rec.Digest, MissingReferrers: []mirror.Referrer{sig}}, &diags)
	if len(diags) != 1 || diags[0].Summary() != "Signatures or attestations missing at the target" || len(state.CopiedReferrers.Elements()) != 1 {
		t.Fatalf("diagnostics %v, %d referrers left", diags, len(state.CopiedReferrers.Elements()))
	}
	for _, p := range []string{"At r.example/mirror/web: cosign tag sha256-a1.sig (sha256:s1), artifact type " + registrytest.CosignSimpleSigning + ", of sha256:a1 is gone",
		"applying it copies them again"} {
		if !strings.Contains(diags[0].Detail(), p) {
			t.Errorf("warning %q does not say %q", diags[0].Detail(), p)
		}
	}

	diags = nil
	newReferrersWarning(mirror.Spec{Source: "src.example/app:1.0"}, mirror.Record{Referrers: []mirror.Referrer{sig, sbom}}, mirror.Record{Referrers: []mirror.Referrer{sig}}, &diags)
	if len(diags) != 1 || !strings.Contains(diags[0].Detail(), "referrer sha256:s2, artifact type "+exampleSBOM+", of sha256:a2") {
		t.Fatalf("new referrers warning: %v", diags)
	}
	diags = nil
	newReferrersWarning(mirror.Spec{}, rec, rec, &diags)
	if len(diags) != 0 {
		t.Fatalf("warning without new referrers: %v", diags)
	}
}
