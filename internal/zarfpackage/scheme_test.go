package zarfpackage

import (
	"strings"
	"testing"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// TestParse: the archive ends at the first .tar.zst, .tar or .part000 followed by ':', '@' or the
// end, so colons in the path (a Windows drive, a folder name) and in the image (a registry port,
// a tag, a digest) stay where they belong.
func TestParse(t *testing.T) {
	digest := "sha256:" + strings.Repeat("ab", 32)
	for _, tc := range []struct{ in, archive, image, digest string }{
		{"zarf-package://zarf-package-app-amd64-1.0.0.tar.zst:nginx:1.27", "zarf-package-app-amd64-1.0.0.tar.zst", "nginx:1.27", ""},
		{"zarf-package://app.tar:docker.io/library/nginx:1.27", "app.tar", "docker.io/library/nginx:1.27", ""},
		{"zarf-package://app.tar.zst.part000:ghcr.io/acme/tool:2", "app.tar.zst.part000", "ghcr.io/acme/tool:2", ""},
		{"zarf-package://app.tar.zst@" + digest, "app.tar.zst", "", digest},
		{"zarf-package://app.tar.zst", "app.tar.zst", "", ""},
		// Colons in the path.
		{"zarf-package:///mnt/usb:1/pkgs/app.tar.zst:nginx:1.27", "/mnt/usb:1/pkgs/app.tar.zst", "nginx:1.27", ""},
		{`zarf-package://C:\transfer\app.tar.zst:nginx:1.27`, `C:\transfer\app.tar.zst`, "nginx:1.27", ""},
		{"zarf-package://C:/transfer/app.tar@" + digest, "C:/transfer/app.tar", "", digest},
		// Colons, '@' and archive-like names in the image.
		{"zarf-package://app.tar.zst:registry.example:5000/db@" + digest, "app.tar.zst", "registry.example:5000/db@" + digest, ""},
		{"zarf-package://app.tar.zst:ghcr.io/acme/img.tar:1", "app.tar.zst", "ghcr.io/acme/img.tar:1", ""},
		// A folder named like an archive is part of the path.
		{"zarf-package://backup.tar.d/app.tar.zst:nginx", "backup.tar.d/app.tar.zst", "nginx", ""},
	} {
		archive, image, dg, err := parse(tc.in)
		if err != nil || archive != tc.archive || image != tc.image || dg != tc.digest {
			t.Errorf("%s splits into archive %q, image %q, digest %q (%v); want %q, %q, %q",
				tc.in, archive, image, dg, err, tc.archive, tc.image, tc.digest)
		}
	}
}

func TestParse_refused(t *testing.T) {
	for in, want := range map[string]string{
		"zarf-package://app.zip:nginx":             "must end with .tar.zst, .tar or .part000",
		"zarf-package://app.tar.zst.part001:nginx": "must end with .tar.zst, .tar or .part000",
		"zarf-package://images:nginx:1.27":         "names no Zarf package archive",
		"zarf-package://app.tar.zst:":              "names no image after it",
		"zarf-package://app.tar.zst@sha256:abc":    `digest "sha256:abc" is not sha256:<64 hex digits>`,
		"zarf-package://app.tar.zst:Nginx:1.27":    `"Nginx:1.27" is not an image reference`,
	} {
		if _, _, _, err := parse(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error saying %q", in, err, want)
		}
	}
}

// TestSchemeOpen: Open reads no file (the archive need not exist yet), a source must name an
// image, and the location says where the image lands at a target naming no tag.
func TestSchemeOpen(t *testing.T) {
	s := Scheme{}
	if _, err := s.Open("zarf-package://missing.tar.zst", store.RoleSource); err == nil ||
		!strings.Contains(err.Error(), "name the image in the package: zarf-package://missing.tar.zst:<original image reference>") {
		t.Errorf("a source without image: %v", err)
	}
	for ref, tag := range map[string]string{
		"zarf-package://missing.tar.zst:nginx:1.27":                                          "1.27",
		"zarf-package://missing.tar.zst:nginx":                                               "latest",
		"zarf-package://missing.tar.zst:nginx@sha256:" + strings.Repeat("ab", 32):            "",
		"zarf-package://missing.tar.zst@sha256:" + strings.Repeat("ab", 32):                  "",
		"zarf-package://missing.tar.zst:registry.example:5000/a/b:v2":                        "v2",
		"zarf-package://missing.tar.zst:ghcr.io/acme/x:1@sha256:" + strings.Repeat("ab", 32): "",
	} {
		loc, err := s.Open(ref, store.RoleSource)
		if err != nil {
			t.Errorf("Open(%s): %v", ref, err)
			continue
		}
		if loc.TargetTag != tag || loc.Repository != "zarf-package://missing.tar.zst" || loc.Store.String() != loc.Repository {
			t.Errorf("Open(%s) = target tag %q, repository %q; want %q, zarf-package://missing.tar.zst", ref, loc.TargetTag, loc.Repository, tag)
		}
		if _, writable := loc.Store.(store.Target); writable {
			t.Errorf("Open(%s): the store can be written to", ref)
		}
	}
}
