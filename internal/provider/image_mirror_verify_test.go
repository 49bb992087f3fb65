package provider

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	tfjson "github.com/hashicorp/terraform-json"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registry"
	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
	"github.com/zarf-dev/terraform-provider-zarf/internal/verify"
	"github.com/zarf-dev/terraform-provider-zarf/internal/verify/verifytest"
)

const (
	keylessIssuer  = "https://token.actions.githubusercontent.com"
	keylessSubject = "release@acme.example"
)

// verifyEnv is what the verify acceptance tests share: a source registry without the referrers
// API (distribution v3: referrers in fallback tags), one with it (go-containerregistry's), a
// target registry, a signing key, a virtual Sigstore whose trusted root the provider is given,
// and a registry client to write signed fixtures with.
type verifyEnv struct {
	src, api, dst *registrytest.Registry
	client        *registry.Client
	key           *verifytest.Signer
	sigstore      *verifytest.Sigstore
	provider      string
}

func newVerifyEnv(t *testing.T) *verifyEnv {
	t.Helper()
	env := &verifyEnv{src: registrytest.Start(t), dst: registrytest.Start(t), key: verifytest.NewKey(t, verifytest.ECDSAP256),
		sigstore: verifytest.NewSigstore(t)}
	for _, impl := range registrytest.Implementations() {
		if impl.Caps.ReferrersAPI {
			env.api = impl.Start(t)
			break
		}
	}
	hosts := []string{env.src.Host, env.api.Host, env.dst.Host}
	var err error
	if env.client, err = registry.New(registry.Config{InsecureRegistries: hosts, Keychain: authn.NewMultiKeychain()}); err != nil {
		t.Fatal(err)
	}
	rootFile := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := os.WriteFile(rootFile, env.sigstore.TrustedRootJSON(t), 0o600); err != nil {
		t.Fatal(err)
	}
	env.provider = providerBlock{insecure: hosts, trustedRootFile: rootFile}.String()
	return env
}

// repo is the store of a repository ("host/name") to write fixtures to or look into.
func (env *verifyEnv) repo(t *testing.T, ref string) *registry.Repository {
	t.Helper()
	r, err := name.NewRepository(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return env.client.Repository(r)
}

// mirror is the provider block and a zarf_image_mirror "test" with body after source and target.
func (env *verifyEnv) mirror(source, target, body string) string {
	return env.provider + fmt.Sprintf("resource \"zarf_image_mirror\" \"test\" {\n  source = %q\n  target = %q\n%s}\n", source, target, body)
}

// keyBlock is a verify block trusting the signer's key, without a transparency log.
func keyBlock(t *testing.T, s *verifytest.Signer) string {
	t.Helper()
	return fmt.Sprintf("  verify {\n    public_keys      = [%q]\n    transparency_log = false\n  }\n", s.PublicKeyPEM(t))
}

// keyIs is verified_by naming the signer's key alone.
func keyIs(t *testing.T, s *verifytest.Signer) knownvalue.Check {
	t.Helper()
	k, err := verify.ParsePublicKey([]byte(s.PublicKeyPEM(t)))
	if err != nil {
		t.Fatal(err)
	}
	return knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact(k.String())})
}

// verifiedBy checks verified_by in the plan and in the state.
func verifiedBy(addr string, want knownvalue.Check) (resource.ConfigPlanChecks, []statecheck.StateCheck) {
	return resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectKnownValue(addr, tfjsonpath.New("verified_by"), want)}},
		[]statecheck.StateCheck{statecheck.ExpectKnownValue(addr, tfjsonpath.New("verified_by"), want)}
}

// expectEmpty fails when the repository has a tag: nothing may be copied for a source that
// fails verification.
func (env *verifyEnv) expectEmpty(t *testing.T, ref string) {
	t.Helper()
	tags, err := env.repo(t, ref).Tags(t.Context())
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	if len(tags) > 0 {
		t.Errorf("%s has tags %v after a mirror that failed verification", ref, tags)
	}
}

// TestAccImageMirror_verify: mirrors with verify blocks, sharing three registries. Signed
// sources apply and record who signed; unsigned, wrong-key, forged and tampered sources fail at
// plan and leave the target empty; keyless identities match or not; Sigstore bundles are found
// through the referrers API and through the fallback tag; an OCI layout made with
// referrers = true verifies offline on the second hop.
func TestAccImageMirror_verify(t *testing.T) {
	if os.Getenv(resource.EnvTfAcc) == "" {
		t.Skipf("acceptance test: set %s=1", resource.EnvTfAcc)
	}
	t.Parallel()
	env := newVerifyEnv(t)
	t.Run("key", func(t *testing.T) { t.Parallel(); testVerifyKey(t, env) })
	for _, c := range []struct{ name, reason string }{
		{"unsigned", "no signature found"},
		{"wrong-key", "unknown key"},
		{"forged", "other digest"},
		{"tampered", "changed after signing"},
	} {
		t.Run(c.name, func(t *testing.T) { t.Parallel(); testVerifyRefused(t, env, c.name, c.reason) })
	}
	t.Run("keyless", func(t *testing.T) { t.Parallel(); testVerifyKeyless(t, env) })
	t.Run("bundleReferrersAPI", func(t *testing.T) { t.Parallel(); testVerifyBundle(t, env, env.api) })
	t.Run("bundleFallbackTag", func(t *testing.T) { t.Parallel(); testVerifyBundle(t, env, env.src) })
	t.Run("twoHop", func(t *testing.T) { t.Parallel(); testVerifyTwoHop(t, env) })
	t.Run("trustedRoot", func(t *testing.T) { t.Parallel(); testVerifyTrustedRoot(t, env) })
	t.Run("signatureGoneBeforeApply", func(t *testing.T) { t.Parallel(); testVerifyAtApply(t, env) })
}

// Apply verifies again before its first write: a signature tag that stops holding the signature
// between plan and apply (moved by a plan check, which runs in between) fails the apply (at
// Terraform's final plan, the first thing apply does), and nothing is copied.
func testVerifyAtApply(t *testing.T, env *verifyEnv) {
	repo := env.repo(t, env.src.Ref("gone/app"))
	image := verifytest.WriteImage(t, repo, "1.0")
	verifytest.WriteSignature(t, repo, image.Digest, env.key, verifytest.Options{})
	target := env.dst.Ref("gone/app")
	replaceSignature := planFuncCheck(func(*tfjson.Plan) error {
		moveTag(t, repo, verify.CosignTag(image.Digest, ".sig"), image)
		return nil
	})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config:           env.mirror(env.src.Ref("gone/app:1.0"), target, keyBlock(t, env.key)),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{replaceSignature}},
			ExpectError:      regexp.MustCompile(`(?s)Error running apply.*is not verified.*malformed`),
		}},
	})
	env.expectEmpty(t, target)
}

// Blocks that need a trusted root fail at plan without one, saying what to do; a trusted root
// that does not parse fails on sigstore_trusted_root.
func testVerifyTrustedRoot(t *testing.T, env *verifyEnv) {
	hosts := []string{env.src.Host, env.dst.Host}
	mirror := mirrorResource(env.src.Ref("root/app:1.0"), env.dst.Ref("root/app"))
	withBlock := strings.TrimSuffix(mirror, "}\n") + fmt.Sprintf("  verify {\n    public_keys = [%q]\n  }\n}\n", env.key.PublicKeyPEM(t))
	badRoot := filepath.Join(t.TempDir(), "trusted_root.json")
	writeFile(t, badRoot, `{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config:      providerBlock{insecure: hosts}.String() + withBlock,
				ExpectError: regexp.MustCompile(`(?s)sigstore_trusted_root, which is not set.*transparency_log = false`),
			},
			{
				Config:      providerBlock{insecure: hosts, trustedRootFile: badRoot}.String() + withBlock,
				ExpectError: regexp.MustCompile(`(?s)sigstore_trusted_root.*lists no certificate\s+authority`),
			},
		},
	})
}

// A key signature (cosign sign --key --tlog-upload=false) applies and names the key; a plan
// without changes keeps it; another verify block is an update that verifies again; the tag
// moving to an unsigned image is a plan error.
func testVerifyKey(t *testing.T, env *verifyEnv) {
	repo := env.repo(t, env.src.Ref("key/app"))
	signed := verifytest.WriteImage(t, repo, "1.0")
	verifytest.WriteSignature(t, repo, signed.Digest, env.key, verifytest.Options{})
	unsigned := verifytest.WriteImage(t, repo, "unsigned")
	config := env.mirror(env.src.Ref("key/app:1.0"), env.dst.Ref("key/app"), keyBlock(t, env.key))
	twoBlocks := env.mirror(env.src.Ref("key/app:1.0"), env.dst.Ref("key/app"), keyBlock(t, env.key)+keyBlock(t, verifytest.NewKey(t, verifytest.RSA2048)))
	planChecks, stateChecks := verifiedBy("zarf_image_mirror.test", keyIs(t, env.key))
	emptyPlan := resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{Config: config, ConfigPlanChecks: planChecks, ConfigStateChecks: stateChecks},
			{Config: config, ConfigPlanChecks: emptyPlan},
			{
				Config: twoBlocks,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("zarf_image_mirror.test", plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue("zarf_image_mirror.test", tfjsonpath.New("verified_by"), keyIs(t, env.key)),
				}},
			},
			{Config: twoBlocks, ConfigPlanChecks: emptyPlan},
			{
				PreConfig: func() { moveTag(t, repo, "1.0", unsigned) },
				Config:    twoBlocks,
				ExpectError: regexp.MustCompile(`(?s)Error: Cannot plan the mirror.*` + regexp.QuoteMeta(unsigned.Digest.String()) +
					`.*no signature found`),
			},
		},
	})
}

// moveTag points tag at d.
func moveTag(t *testing.T, repo *registry.Repository, tag string, d v1.Descriptor) {
	t.Helper()
	_, raw, err := repo.Manifest(t.Context(), d.Digest.String())
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.Tag(t.Context(), tag, d, raw); err != nil {
		t.Fatal(err)
	}
}

// A source that is unsigned, signed with another key, carries another image's signature
// (forged) or a payload changed after signing (tampered) fails at plan, and nothing is copied.
func testVerifyRefused(t *testing.T, env *verifyEnv, kind, reason string) {
	repo := env.repo(t, env.src.Ref("refused/"+kind))
	image := verifytest.WriteImage(t, repo, "1.0")
	switch kind {
	case "wrong-key":
		verifytest.WriteSignature(t, repo, image.Digest, verifytest.NewKey(t, verifytest.ECDSAP256), verifytest.Options{})
	case "forged":
		other := verifytest.WriteImage(t, repo, "other")
		verifytest.WriteSignature(t, repo, image.Digest, env.key, verifytest.Options{Signs: other.Digest})
	case "tampered":
		verifytest.WriteSignature(t, repo, image.Digest, env.key, verifytest.Options{Tamper: true})
	}
	target := env.dst.Ref("refused/" + kind)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config:      env.mirror(env.src.Ref("refused/"+kind+":1.0"), target, keyBlock(t, env.key)),
			ExpectError: regexp.MustCompile(`(?s)Error: Cannot plan the mirror.*with zarf_image_mirror.test,.*` + reason),
		}},
	})
	env.expectEmpty(t, target)
}

// A keyless signature with a transparency-log entry: a block of another identity fails at plan
// and names the identity; the signer's identity applies.
func testVerifyKeyless(t *testing.T, env *verifyEnv) {
	repo := env.repo(t, env.src.Ref("keyless/app"))
	image := verifytest.WriteImage(t, repo, "1.0")
	verifytest.WriteSignature(t, repo, image.Digest, env.sigstore.Keyless(t, keylessIssuer, keylessSubject), verifytest.Options{Log: env.sigstore})
	keyless := func(subject string) string {
		return fmt.Sprintf("  verify {\n    keyless {\n      issuer = %q\n      %s\n    }\n  }\n", keylessIssuer, subject)
	}
	source, target := env.src.Ref("keyless/app:1.0"), env.dst.Ref("keyless/app")
	planChecks, stateChecks := verifiedBy("zarf_image_mirror.test", knownvalue.ListExact([]knownvalue.Check{
		knownvalue.StringExact("keyless " + keylessIssuer + " " + keylessSubject)}))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config:      env.mirror(source, target, keyless(`subject_regexp = "^ci@acme\\.example$"`)),
				ExpectError: regexp.MustCompile(`identity mismatch`),
			},
			{
				Config:           env.mirror(source, target, keyless(fmt.Sprintf("subject = %q", keylessSubject))),
				ConfigPlanChecks: planChecks, ConfigStateChecks: stateChecks,
			},
		},
	})
}

// A Sigstore bundle (cosign 3's default) stored as a referrer: at reg, through the referrers
// API or the fallback tag.
func testVerifyBundle(t *testing.T, env *verifyEnv, reg *registrytest.Registry) {
	repo := env.repo(t, reg.Ref("bundle/app"))
	image := verifytest.WriteImage(t, repo, "1.0")
	verifytest.WriteBundle(t, repo, image, env.key, "", verifytest.Options{})
	planChecks, stateChecks := verifiedBy("zarf_image_mirror.test", keyIs(t, env.key))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config:           env.mirror(reg.Ref("bundle/app:1.0"), env.dst.Ref("bundle/"+strings.ReplaceAll(reg.Host, ":", "-")), keyBlock(t, env.key)),
			ConfigPlanChecks: planChecks, ConfigStateChecks: stateChecks,
		}},
	})
}

// Two hops: registry → OCI layout with referrers = true, verified at the registry (cosign .sig
// tag, key A); layout → registry verified from the layout alone (a bundle referrer, key B).
func testVerifyTwoHop(t *testing.T, env *verifyEnv) {
	repo := env.repo(t, env.src.Ref("hop/app"))
	image := verifytest.WriteImage(t, repo, "1.0")
	packKey, unpackKey := env.key, verifytest.NewKey(t, verifytest.Ed25519)
	verifytest.WriteSignature(t, repo, image.Digest, packKey, verifytest.Options{})
	verifytest.WriteBundle(t, repo, image, unpackKey, "", verifytest.Options{})
	layoutRef := "oci-layout://" + filepath.Join(t.TempDir(), "images")
	pack := fmt.Sprintf("resource \"zarf_image_mirror\" \"pack\" {\n  source    = %q\n  target    = %q\n  referrers = true\n%s}\n",
		env.src.Ref("hop/app:1.0"), layoutRef, keyBlock(t, packKey))
	unpack := fmt.Sprintf("resource \"zarf_image_mirror\" \"unpack\" {\n  source = %q\n  target = %q\n%s}\n",
		layoutRef+":1.0", env.dst.Ref("hop/app"), keyBlock(t, unpackKey))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config:            env.provider + pack,
				ConfigStateChecks: []statecheck.StateCheck{statecheck.ExpectKnownValue("zarf_image_mirror.pack", tfjsonpath.New("verified_by"), keyIs(t, packKey))},
			},
			{
				Config:            env.provider + pack + unpack,
				ConfigStateChecks: []statecheck.StateCheck{statecheck.ExpectKnownValue("zarf_image_mirror.unpack", tfjsonpath.New("verified_by"), keyIs(t, unpackKey))},
			},
		},
	})
}

// TestAccImageMirror_verifyValidate: `terraform validate`, which reaches no registry, reports
// mistakes of verify blocks on their attributes, and accepts good blocks.
func TestAccImageMirror_verifyValidate(t *testing.T) {
	tf := newTerraformCLI(t)
	t.Parallel()
	work := t.TempDir()
	key := verifytest.NewKey(t, verifytest.ECDSAP256).PublicKeyPEM(t)
	writeFile(t, filepath.Join(work, "main.tf"), requiredProviders+fmt.Sprintf(`resource "zarf_image_mirror" "bad" {
  source = "127.0.0.1:1/app:1.0"
  target = "127.0.0.1:1/mirror"
  verify {
    public_keys = [%q, "not a key"]
  }
  verify {
    keyless {
      issuer         = "https://token.actions.githubusercontent.com"
      subject_regexp = "^https://github.com/acme/(app"
    }
  }
  verify {
    keyless {
      subject = "release@acme.example"
    }
  }
  verify {
    transparency_log = false
  }
}

resource "zarf_image_mirror" "good" {
  source = "127.0.0.1:1/app:1.0"
  target = "127.0.0.1:1/mirror"
  verify {
    public_keys      = [%q]
    transparency_log = false
  }
  verify {
    keyless {
      issuer         = "https://token.actions.githubusercontent.com"
      subject_regexp = "^https://github.com/acme/app/"
    }
    attestation_types = ["https://slsa.dev/provenance/v1"]
  }
}
`, key, key))
	valid, diags := tf.validate(t, work)
	if valid {
		t.Fatal("terraform validate accepts the bad verify blocks")
	}
	want := map[int]string{ // line → the error there (after the 6 lines of requiredProviders)
		11: "Invalid verify block: ",                              // public_keys[1]
		16: "Invalid verify block: not an RE2 regular expression", // subject_regexp
		20: "Invalid verify block: required: the OIDC issuer",     // keyless without issuer
		24: "Invalid verify block: say who must have signed",      // a block without signers
	}
	expectErrorsAt(t, diags, want)
}

// TestAccImageMirror_verifyStateFromEarlierVersion: a mirror applied by a provider without
// verify blocks (its state has neither verify nor verified_by) plans no change with this one.
func TestAccImageMirror_verifyStateFromEarlierVersion(t *testing.T) {
	tf := newTerraformCLI(t)
	t.Parallel()
	src, dst := registrytest.Start(t), registrytest.Start(t)
	registrytest.PushIndex(t, src.Ref("app/web:1.0"), registrytest.IndexSpec{Images: testImages[:1]})
	work := t.TempDir()
	writeFile(t, filepath.Join(work, "main.tf"), requiredProviders+providerConfig(src, dst)+
		mirrorResource(src.Ref("app/web:1.0"), dst.Ref("mirror/web")))
	tf.expect(t, work, 0, "apply", "-auto-approve")

	statePath := filepath.Join(work, "terraform.tfstate")
	raw, err := os.ReadFile(statePath)
	if err != nil {
		t.Fatal(err)
	}
	var state map[string]any
	if err := json.Unmarshal(raw, &state); err != nil {
		t.Fatal(err)
	}
	attrs := state["resources"].([]any)[0].(map[string]any)["instances"].([]any)[0].(map[string]any)["attributes"].(map[string]any) //nolint:forcetypeassert // the state format
	for _, name := range []string{"verify", "verified_by"} {
		if _, ok := attrs[name]; !ok {
			t.Fatalf("the state has no %s: %v", name, attrs)
		}
		delete(attrs, name)
	}
	if raw, err = json.Marshal(state); err != nil {
		t.Fatal(err)
	}
	writeFile(t, statePath, string(raw))
	tf.expect(t, work, 0, "plan", "-refresh=false", "-detailed-exitcode") // the state as it was written
	tf.expect(t, work, 0, "plan", "-detailed-exitcode")
}
