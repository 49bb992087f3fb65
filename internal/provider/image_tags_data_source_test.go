package provider

import (
	"fmt"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
)

// tagsAre checks a tags attribute: exactly these strings, in this order.
func tagsAre(tags ...string) knownvalue.Check {
	checks := make([]knownvalue.Check, len(tags))
	for i, tag := range tags {
		checks[i] = knownvalue.StringExact(tag)
	}
	return knownvalue.ListExact(checks)
}

// TestAccImageTags_selection reads a repository of 1,206 tags (two pages of the tag list)
// through a counting proxy, with every kind of selection, and checks that nothing but the tag
// list was asked for.
func TestAccImageTags_selection(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t)
	d := registrytest.PushImage(t, reg.Ref("app/train:base"), testImages[0], "")
	var tags []string
	for i := range 1200 {
		tags = append(tags, fmt.Sprintf("1.%d.0", i))
	}
	reg.WriteTags(t, "app/train", d.Digest, append(tags, "2.0.0-rc.1", "2.0.0", "v2.1.0", "latest", "2")...)
	proxy := registrytest.NewProxy(t, reg)
	repo := proxy.Ref("app/train")
	config := hostsConfig(proxy.Host) + fmt.Sprintf(`
data "zarf_image_tags" "all" {
  repository = %[1]q
}
data "zarf_image_tags" "window" {
  repository = %[1]q
  semver     = ">= 1.1195.0"
}
data "zarf_image_tags" "newest" {
  repository = %[1]q
  include    = ["^1\\.11"]
  exclude    = ["9\\.0$"]
  newest     = 3
}
data "zarf_image_tags" "prereleases" {
  repository = %[1]q
  semver     = ">= 2.0.0-0"
}
data "zarf_image_tags" "bytes" {
  repository = %[1]q
  include    = ["^2"]
}
`, repo)
	addr := func(name string) string { return "data.zarf_image_tags." + name }
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: config,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(addr("all"), tfjsonpath.New("tags"), knownvalue.ListSizeExact(1206)),
				statecheck.ExpectKnownValue(addr("all"), tfjsonpath.New("tags").AtSliceIndex(0), knownvalue.StringExact("1.0.0")),
				statecheck.ExpectKnownValue(addr("window"), tfjsonpath.New("tags"),
					tagsAre("1.1195.0", "1.1196.0", "1.1197.0", "1.1198.0", "1.1199.0", "2.0.0", "v2.1.0")),
				statecheck.ExpectKnownValue(addr("newest"), tfjsonpath.New("tags"), tagsAre("1.1196.0", "1.1197.0", "1.1198.0")),
				statecheck.ExpectKnownValue(addr("prereleases"), tfjsonpath.New("tags"), tagsAre("2.0.0-rc.1", "2.0.0", "v2.1.0")),
				statecheck.ExpectKnownValue(addr("bytes"), tfjsonpath.New("tags"), tagsAre("2", "2.0.0", "2.0.0-rc.1")),
			},
			Check: func(*terraform.State) error {
				// Each read of the five data sources is two pages; the test framework reads them
				// several times (plan, apply, refresh).
				pages := proxy.Count(http.MethodGet, registrytest.KindTags)
				if pages == 0 || pages%(5*2) != 0 {
					return fmt.Errorf("%d tag list requests, want a multiple of 10 (5 data sources, 2 pages each)", pages)
				}
				for call, n := range proxy.Counts() {
					if call.Kind != registrytest.KindTags && call.Kind != registrytest.KindOther {
						return fmt.Errorf("the data sources sent %d %s %s requests; they read the tag list only", n, call.Method, call.Kind)
					}
				}
				return nil
			},
		}},
	})
}

func TestAccImageTags_errors(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t)
	d := registrytest.PushImage(t, reg.Ref("app/web:1.0.0"), testImages[0], "")
	reg.WriteTags(t, "app/web", d.Digest, "1.1.0", "latest", "stable", "1.1")
	tagsConfig := func(body string) string {
		return providerConfig(reg) + "data \"zarf_image_tags\" \"test\" {\n" + body + "\n}\n"
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config:      tagsConfig(fmt.Sprintf("repository = %q", reg.Ref("app/none"))),
				ExpectError: phrases("Cannot list the tags of "+reg.Ref("app/none"), reg.Ref("app/none")+" was not found in registry"),
			},
			{
				Config: tagsConfig(fmt.Sprintf("repository = %q\nnewest = 2", reg.Ref("app/web"))),
				ExpectError: phrases("Cannot select the newest tags", "newest = 2", "3 of the 5 selected tags are not semantic versions",
					`"1.1", "latest", "stable"`),
			},
			{
				Config: tagsConfig(fmt.Sprintf("repository = %q", reg.Ref("app/web:1.0.0"))),
				ExpectError: phrases(fmt.Sprintf("repository = %q", reg.Ref("app/web:1.0.0")),
					"it names an image, but a repository names none: write "+reg.Ref("app/web")),
			},
		},
	})
}

// TestAccImageTags_validate: `terraform validate`, which reaches no registry, reports a bad
// constraint, bad patterns and a newest below 1 on their attributes, and accepts good ones.
func TestAccImageTags_validate(t *testing.T) {
	tf := newTerraformCLI(t)
	t.Parallel()
	work := t.TempDir()
	writeFile(t, filepath.Join(work, "main.tf"), requiredProviders+`data "zarf_image_tags" "bad" {
  repository = "127.0.0.1:1/app"
  semver     = ">= 6.4 <"
  include    = ["^6", "6.("]
  exclude    = ["[", "-rc"]
  newest     = 0
}

data "zarf_image_tags" "good" {
  repository = "127.0.0.1:1/app"
  semver     = ">= 6.4.0, < 7 || ^8.0.0-0"
  include    = ["^6\\.", "^8"]
  exclude    = ["-rc\\.\\d+$"]
  newest     = 3
}
`)
	valid, diags := tf.validate(t, work)
	if valid {
		t.Fatal("terraform validate accepts the bad selection")
	}
	want := map[int]string{ // line → the error there (after the 6 lines of requiredProviders)
		9:  `Invalid semver: semver ">= 6.4 <" is not a valid constraint`,
		10: `Invalid include pattern: include[1] "6.(" is not a valid RE2 regular expression`,
		11: `Invalid exclude pattern: exclude[0] "[" is not a valid RE2 regular expression`,
		12: `Invalid newest: newest = 0 keeps no tag`,
	}
	expectErrorsAt(t, diags, want)
}
