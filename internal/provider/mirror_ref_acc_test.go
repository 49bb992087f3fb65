package provider

import (
	"errors"
	"fmt"
	"hash/crc32"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
)

// A mirror whose target is provider::zarf::mirror_ref(<zarf registry>, <source>) lands where
// the Zarf agent points pods that use <source>, with the source's digest. Zarf's transform drops
// the source host: 127.0.0.1:PORT/app/web:1.0 becomes <dst>/app/web:1.0-zarf-<crc32>; a digest
// source becomes <dst>/app/web@<digest>, pushed without a tag.
func TestAccMirrorRef_mirrorLandsWhereZarfPoints(t *testing.T) {
	t.Parallel()
	src := registrytest.Start(t)
	raw := pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	digest := sha256Of(raw)
	// Computed here as Zarf does, not with internal/zarf: the CRC-32 of the normalised name.
	crc := crc32.ChecksumIEEE([]byte(src.Host + "/app/web"))

	for _, tc := range []struct {
		name   string
		source string
		// target is what mirror_ref returns and ref the mirror's ref attribute, for a Zarf
		// registry at host.
		target, ref func(host string) string
		// tagged says whether the mirror writes a tag at the target.
		tagged bool
	}{
		{
			name:   "tag",
			source: src.Ref("app/web:1.0"),
			target: func(h string) string { return fmt.Sprintf("%s/app/web:1.0-zarf-%d", h, crc) },
			ref:    func(h string) string { return fmt.Sprintf("%s/app/web:1.0-zarf-%d@%s", h, crc, digest) },
			tagged: true,
		},
		{
			// Untagged: the plan warns that the mirror is pushed by digest only.
			name:   "index digest",
			source: src.Ref("app/web@" + digest),
			target: func(h string) string { return h + "/app/web@" + digest },
			ref:    func(h string) string { return h + "/app/web@" + digest },
		},
		{
			// mirror_ref drops the tag; the mirror still takes it from the source.
			name:   "tag and digest",
			source: src.Ref("app/web:1.0@" + digest),
			target: func(h string) string { return h + "/app/web@" + digest },
			ref:    func(h string) string { return h + "/app/web:1.0@" + digest },
			tagged: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A Zarf registry of its own per case: mirror_ref fixes the repository (app/web).
			dst := registrytest.Start(t)
			// mirror_ref returns the image unchanged when the Zarf registry's address starts
			// with the image's host (Zarf's "already transformed" check); random ports could
			// make that so.
			for strings.HasPrefix(dst.Host, src.Host) {
				dst = registrytest.Start(t)
			}
			target, ref := tc.target(dst.Host), tc.ref(dst.Host)
			config := providerConfig(src, dst) + fmt.Sprintf(`
locals {
  source = %q
}

resource "zarf_image_mirror" "test" {
  source = local.source
  target = provider::zarf::mirror_ref(%q, local.source)
}

output "target" {
  value = provider::zarf::mirror_ref(%q, local.source)
}
`, tc.source, dst.Host, dst.Host)
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviders,
				Steps: []resource.TestStep{
					{
						Config: config,
						ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
							plancheck.ExpectResourceAction(mirrorAddr, plancheck.ResourceActionCreate),
							plancheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("target"), knownvalue.StringExact(target)),
							plancheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("ref"), knownvalue.StringExact(ref)),
							plancheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("digest"), knownvalue.StringExact(digest)),
						}},
						ConfigStateChecks: []statecheck.StateCheck{
							statecheck.ExpectKnownOutputValue("target", knownvalue.StringExact(target)),
							statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("ref"), knownvalue.StringExact(ref)),
							statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("source_digest"), knownvalue.StringExact(digest)),
							statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("digest"), knownvalue.StringExact(digest)),
							statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("id"), knownvalue.StringExact(dst.Ref("app/web@"+digest))),
						},
						Check: resource.ComposeTestCheckFunc(
							// The reference the agent rewrites pods to serves the source's index bytes.
							checkSameBytes(t, target, raw, types.OCIImageIndex),
							checkSameBytes(t, ref, raw, types.OCIImageIndex),
							checkChildren(t, src.Ref("app/web:1.0"), dst.Ref("app/web"), map[string]bool{
								"linux/amd64": true, "linux/arm64/v8": true, "linux/arm/v7": true, "linux/s390x": true,
							}),
							checkTags(t, dst.Ref("app/web"), ref, tc.tagged),
						),
					},
					{
						Config:           config,
						ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
					},
				},
			})
		})
	}
}

// checkTags checks that the tag of ref (repo[:tag]@digest) exists in repo when tagged, and that
// repo has no tag at all otherwise (a digest-only mirror is pushed by digest alone).
func checkTags(t *testing.T, repo, ref string, tagged bool) func(*terraform.State) error {
	return func(*terraform.State) error {
		r, err := name.NewRepository(repo, name.Insecure)
		if err != nil {
			return err
		}
		tags, err := remote.List(r, remote.WithContext(t.Context()))
		// distribution answers 404 NAME_UNKNOWN for a repository that holds no tag.
		var terr *transport.Error
		if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
			tags, err = nil, nil
		}
		if err != nil {
			return fmt.Errorf("listing the tags of %s: %w", repo, err)
		}
		base, _, _ := strings.Cut(ref, "@")
		_, tag := splitRefTag(base)
		switch {
		case tagged && !slices.Contains(tags, tag):
			return fmt.Errorf("%s has tags %v, want %q among them", repo, tags, tag)
		case !tagged && len(tags) > 0:
			return fmt.Errorf("%s has tags %v, want none: the mirror of a digest is pushed by digest only", repo, tags)
		}
		return nil
	}
}

// splitRefTag splits "host:port/repo:tag" into the repository and the tag ("" without one).
func splitRefTag(s string) (repo, tag string) {
	if i := strings.LastIndex(s, ":"); i > strings.LastIndex(s, "/") {
		return s[:i], s[i+1:]
	}
	return s, ""
}
