package provider

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
)

// These tests run the real terraform binary, as a user or a CI job does, because
// terraform-plugin-testing cannot destroy resources made with for_each, the shape a release
// train has.

// pushRelease pushes a small single-platform image, different for every tag, to ref.
func pushRelease(t *testing.T, ref string) v1.Hash {
	t.Helper()
	seed := int64(len(ref))
	for _, c := range ref {
		seed = seed*31 + int64(c)
	}
	return registrytest.PushImage(t, ref, registrytest.ImageSpec{Platform: "linux/amd64", Layers: []int64{300}, Seed: seed}, "").Digest
}

// TestAccImageTags_releaseTrain follows a release train with for_each: the selection is
// applied as mirrors; a new upstream tag inside it makes `terraform plan -detailed-exitcode`
// exit 2 with exactly one create; narrowing the constraint plans exactly the destroys of the
// tags that left, and keep_remotely leaves their content at the target.
func TestAccImageTags_releaseTrain(t *testing.T) {
	tf := newTerraformCLI(t)
	t.Parallel()
	src, dst := registrytest.Start(t), registrytest.Start(t)
	digests := map[string]v1.Hash{}
	for _, tag := range []string{"6.3.0", "6.4.0", "6.4.1", "6.5.0-rc.1", "latest"} {
		digests[tag] = pushRelease(t, src.Ref("app/web:"+tag))
	}
	work := t.TempDir()
	writeFile(t, filepath.Join(work, "main.tf"), requiredProviders+providerConfig(src, dst)+fmt.Sprintf(`
variable "window" {
  type = string
}

data "zarf_image_tags" "web" {
  repository = %q
  semver     = var.window
}

resource "zarf_image_mirror" "web" {
  for_each      = toset(data.zarf_image_tags.web.tags)
  source        = "%s:${each.value}"
  target        = %q
  keep_remotely = true
}
`, src.Ref("app/web"), src.Ref("app/web"), dst.Ref("mirror/web")))
	window := func(constraint string) {
		writeFile(t, filepath.Join(work, "terraform.tfvars"), fmt.Sprintf("window = %q\n", constraint))
	}
	plan := func(want int, phrases ...string) {
		t.Helper()
		out := strings.Join(strings.Fields(tf.expect(t, work, want, "plan", "-detailed-exitcode")), " ")
		for _, p := range phrases {
			if !strings.Contains(out, p) {
				t.Fatalf("the plan does not say %q:\n%s", p, out)
			}
		}
	}
	// mirrored checks that the target has exactly these tags of the source, with its digests.
	mirrored := func(want ...string) {
		t.Helper()
		for tag, digest := range digests {
			ref := dst.Ref("mirror/web:" + tag)
			if has := registrytest.Exists(t, ref); has != slices.Contains(want, tag) {
				t.Fatalf("%s exists at the target: %t, want %t", ref, has, !has)
			}
			if !slices.Contains(want, tag) {
				continue
			}
			if raw, _ := registrytest.Fetch(t, ref); sha256Of(raw) != digest.String() {
				t.Fatalf("%s is %s, want %s", ref, sha256Of(raw), digest)
			}
		}
	}

	window(">= 6.4.0, < 7")
	tf.expect(t, work, 0, "apply", "-auto-approve")
	mirrored("6.4.0", "6.4.1")
	plan(0, "No changes.")

	// New upstream tags: one inside the window, a pre-release and a major outside it.
	for _, tag := range []string{"6.5.0", "6.6.0-rc.1", "7.0.0"} {
		digests[tag] = pushRelease(t, src.Ref("app/web:"+tag))
	}
	plan(2, `zarf_image_mirror.web["6.5.0"] will be created`, "Plan: 1 to add, 0 to change, 0 to destroy.")
	tf.expect(t, work, 0, "apply", "-auto-approve")
	mirrored("6.4.0", "6.4.1", "6.5.0")

	window("~6.5")
	plan(2, `zarf_image_mirror.web["6.4.0"] will be destroyed`, `zarf_image_mirror.web["6.4.1"] will be destroyed`,
		`(because key ["6.4.0"] is not in for_each map)`, "Plan: 0 to add, 0 to change, 2 to destroy.")
	tf.expect(t, work, 0, "apply", "-auto-approve")
	mirrored("6.4.0", "6.4.1", "6.5.0") // keep_remotely: the mirrors left Terraform, not the registry
	plan(0, "No changes.")
}

// TestAccImageTags_airGap follows a release train across an air gap: the connected side
// mirrors the selection into an OCI image layout; the other side lists the layout's tags (its
// ref names) and mirrors each into its registry.
func TestAccImageTags_airGap(t *testing.T) {
	tf := newTerraformCLI(t)
	t.Parallel()
	src, dst := registrytest.Start(t), registrytest.Start(t)
	for _, tag := range []string{"v6.3.0", "v6.4.0", "v6.4.1", "v6.5.0-rc.1"} {
		pushRelease(t, src.Ref("app/web:"+tag))
	}
	layout := "oci-layout://" + filepath.ToSlash(filepath.Join(t.TempDir(), "images"))
	connected, airGapped := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(connected, "main.tf"), requiredProviders+providerConfig(src)+fmt.Sprintf(`
data "zarf_image_tags" "upstream" {
  repository = %q
  semver     = "~6.4"
}

resource "zarf_image_mirror" "pack" {
  for_each = toset(data.zarf_image_tags.upstream.tags)
  source   = "%s:${each.value}"
  target   = %q
}
`, src.Ref("app/web"), src.Ref("app/web"), layout))
	writeFile(t, filepath.Join(airGapped, "main.tf"), requiredProviders+providerConfig(dst)+fmt.Sprintf(`
data "zarf_image_tags" "package" {
  repository = %q
}

resource "zarf_image_mirror" "unpack" {
  for_each = toset(data.zarf_image_tags.package.tags)
  source   = "%s:${each.value}"
  target   = %q
}

output "tags" {
  value = data.zarf_image_tags.package.tags
}
`, layout, layout, dst.Ref("app/web")))

	tf.expect(t, connected, 0, "apply", "-auto-approve")
	tf.expect(t, airGapped, 0, "apply", "-auto-approve")
	stdout, _, _ := tf.run(t, airGapped, "output", "-json", "tags")
	var tags []string
	if err := json.Unmarshal(stdout, &tags); err != nil || !slices.Equal(tags, []string{"v6.4.0", "v6.4.1"}) {
		t.Fatalf("the layout's tags are %s (%v), want [v6.4.0 v6.4.1]", stdout, err)
	}
	for _, tag := range tags {
		want, _ := registrytest.Fetch(t, src.Ref("app/web:"+tag))
		if got, _ := registrytest.Fetch(t, dst.Ref("app/web:"+tag)); string(got) != string(want) {
			t.Errorf("%s reached the air-gapped registry as other bytes than the source's", tag)
		}
	}
	tf.expect(t, airGapped, 0, "plan", "-detailed-exitcode")
}
