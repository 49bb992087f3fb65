package provider

import (
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
)

// offlineMistakes are configurations with one mistake per faulty line, each marked with what
// terraform validate must say about it ("# want: <text>"). The provider block is alone: Terraform
// validates no resource of a provider whose configuration is invalid, and no provider that no
// resource uses.
var offlineMistakes = []string{`
resource "zarf_image_mirror" "upper_case" {
  source = "registry.lab/Library/nginx:1.27" # want: source "registry.lab/Library/nginx:1.27" is not a valid image reference: repository can only contain
  target = "registry.lab/mirror/nginx"
}
resource "zarf_image_mirror" "upper_case_short_name" {
  source = "Nginx" # want: repository names are lower case: write nginx
  target = "registry.lab/mirror/nginx"
}
resource "zarf_image_mirror" "colon_without_tag" {
  source = "registry.lab/library/nginx:1.27"
  target = "registry.lab/mirror/nginx:" # want: target "registry.lab/mirror/nginx:" is not a valid image reference: it ends with ":" but has no tag after it
}
resource "zarf_image_mirror" "scheme" {
  source = "https://registry.lab/library/nginx:1.27" # want: write it without a scheme
  target = "registry.lab/mirror/nginx"
}
resource "zarf_image_mirror" "empty" {
  source = "" # want: source "" is not a valid image reference: it is empty
  target = "registry.lab/mirror/nginx"
}
resource "zarf_image_mirror" "bad_digest" {
  source = "registry.lab/library/nginx@sha256:abc" # want: digest "sha256:abc" is not sha256:<64 hex digits>
  target = "registry.lab/mirror/nginx"
}
resource "zarf_image_mirror" "layout_without_ref" {
  source = "oci-layout://images" # want: name the image in the layout
  target = "registry.lab/mirror/nginx"
}
resource "zarf_image_mirror" "layout_without_path" {
  source = "registry.lab/library/nginx:1.27"
  target = "oci-layout://" # want: the layout path is empty
}
resource "zarf_image_mirror" "platform" {
  source    = "registry.lab/library/nginx:1.27"
  target    = "registry.lab/mirror/nginx"
  platforms = ["linux/amd64", "linux"] # want: platform "linux" is not os/arch or os/arch/variant
}
data "zarf_image_index" "scheme" {
  ref = "https://registry.lab/library/nginx:1.27" # want: ref "https://registry.lab/library/nginx:1.27" is not a valid image reference
}
`, `
provider "zarf" {
  insecure_registries = ["127.0.0.1:5000", "http://127.0.0.1:5001"] # want: "http://127.0.0.1:5001" has a scheme; write the host[:port] alone, e.g. "127.0.0.1:5001"
  ca_pem              = "not a certificate" # want: no PEM-encoded certificate found
  registry_auth {
    address  = "registry.lab/team" # want: "registry.lab/team" has a path; write the host[:port] alone, e.g. "registry.lab"
    username = "ci"
    password = "secret"
  }
}
resource "zarf_image_mirror" "valid" {
  source = "registry.lab/library/nginx:1.27"
  target = "registry.lab/mirror/nginx"
}
`}

// TestAccValidate_catchesWhatNeedsNoNetwork runs terraform validate (which neither configures
// the provider nor plans) on each of offlineMistakes and expects each mistake reported as an
// error on its line, with the explanation the engine gives at plan time.
func TestAccValidate_catchesWhatNeedsNoNetwork(t *testing.T) {
	tf := newTerraformCLI(t)
	for i, mistakes := range offlineMistakes {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			config := requiredProviders + mistakes
			want := map[int]string{} // line → what the error says
			for i, l := range strings.Split(config, "\n") {
				if _, text, ok := strings.Cut(l, "# want: "); ok {
					want[i+1] = text
				}
			}
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "main.tf"), config)

			valid, diags := tf.validate(t, dir)
			if valid {
				t.Fatalf("terraform validate accepts every mistake of:\n%s", config)
			}
			reported := map[int]bool{}
			for _, d := range diags {
				if d.Range == nil {
					t.Errorf("%s without a line: %s: %s", d.Severity, d.Summary, d.Detail)
					continue
				}
				l := d.Range.Start.Line
				text, ok := want[l]
				switch {
				case !ok:
					t.Errorf("line %d: unexpected %s: %s: %s", l, d.Severity, d.Summary, d.Detail)
				case d.Severity != "error" || !strings.Contains(strings.Join(strings.Fields(d.Detail), " "), text):
					t.Errorf("line %d: %s: %s: %s\nwant an error that says %q", l, d.Severity, d.Summary, d.Detail, text)
				}
				reported[l] = true
			}
			for l, text := range want {
				if !reported[l] {
					t.Errorf("line %d: nothing reported, want an error that says %q", l, text)
				}
			}
		})
	}
}

// TestAccImageMirror_insecureRegistryWithoutPort: insecure_registries = ["127.0.0.1"] does not
// list 127.0.0.1:<port>; the plan's error names the entry and says that the port is part of the
// host.
func TestAccImageMirror_insecureRegistryWithoutPort(t *testing.T) {
	t.Parallel()
	src := registrytest.Start(t)
	pushHandWrittenIndex(t, src, "app/web:1.0", types.OCIImageIndex)
	hostname, _, err := net.SplitHostPort(src.Host)
	if err != nil {
		t.Fatal(err)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: hostsConfig(hostname) + fmt.Sprintf("resource \"zarf_image_mirror\" \"test\" {\n  source = %q\n  target = %q\n}\n",
				src.Ref("app/web:1.0"), src.Ref("mirror/web")),
			ExpectError: regexp.MustCompile(`(?s)` + phrase(fmt.Sprintf("which lists %q: the port is part of the host, so list %q", hostname, src.Host))),
		}},
	})
}
