package provider

import (
	"archive/tar"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
	"github.com/zarf-dev/terraform-provider-zarf/internal/verify/verifytest"
	"github.com/zarf-dev/terraform-provider-zarf/internal/zarf"
)

// packageMirrors is the configuration that mirrors every image of the Zarf package at archive
// to where a Zarf cluster whose registry is zarfRegistry pulls it, read through
// data.zarf_package (with publicKey when not empty).
type packageMirrors struct {
	cacheDir, registryHost, zarfRegistry, archive, publicKey string
}

func (m packageMirrors) String() string {
	key := ""
	if m.publicKey != "" {
		key = fmt.Sprintf("  public_key = %q\n", m.publicKey)
	}
	return fmt.Sprintf(`provider "zarf" {
  cache_dir           = %q
  insecure_registries = [%q]
}
data "zarf_package" "app" {
  path = %q
%s}
resource "zarf_image_mirror" "app" {
  for_each     = toset(data.zarf_package.app.images)
  source       = "zarf-package://${data.zarf_package.app.path}:${each.value}"
  target       = provider::zarf::mirror_ref(%q, each.value)
  attestations = true
}
`, m.cacheDir, m.registryHost, m.archive, key, m.zarfRegistry)
}

// targetOf is where the mirror of image lands: what the Zarf agent pulls.
func (m packageMirrors) targetOf(t *testing.T, image string) string {
	t.Helper()
	ref, err := zarf.MirrorRef(m.zarfRegistry, image)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// packageImages are the images of zarfPackageSpec.
var packageImages = []string{"nginx:1.27", "ghcr.io/acme/tool:2"}

// mirroredAs checks that every image of the package is at the target with the digest it has
// in the package.
func (m packageMirrors) mirroredAs(t *testing.T, pkg registrytest.ZarfPackage) {
	t.Helper()
	for _, image := range packageImages {
		want := pkg.Images[image].Digest.String()
		if raw, _ := registrytest.Fetch(t, m.targetOf(t, image)); sha256Of(raw) != want {
			t.Errorf("%s at the target is %s, want %s (the package's)", image, sha256Of(raw), want)
		}
	}
}

// nothingAt checks that no image of the package reached the target.
func (m packageMirrors) nothingAt(t *testing.T, images map[string]v1.Descriptor) {
	t.Helper()
	for image := range images {
		if target := m.targetOf(t, image); registrytest.Exists(t, target) {
			t.Errorf("%s was written at the target", target)
		}
	}
}

// forbidUnpacking makes the cache's folder for unpacking a file, so that an unpacking fails.
func forbidUnpacking(t *testing.T, cacheDir string) {
	tmp := filepath.Join(cacheDir, "tmp")
	if err := os.RemoveAll(tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tmp, []byte("no unpacking here"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Every image of real package archives (.tar.zst, .tar, split) is mirrored, with for_each over
// data.zarf_package's images, to the names the Zarf agent pulls, with the digests the package
// holds; a second plan reads the package from the cache without unpacking it and plans nothing.
// A new package at the same path whose image differs is a planned update of that image's
// mirror. The real terraform binary runs them: terraform-plugin-testing cannot read the state of
// resources made with for_each.
func TestAccImageMirror_zarfPackage(t *testing.T) {
	tf := newTerraformCLI(t)
	t.Parallel()
	reg := registrytest.Start(t)
	// apply writes the configuration of m into a new working directory and applies it.
	apply := func(t *testing.T, m packageMirrors) string {
		work := t.TempDir()
		writeFile(t, filepath.Join(work, "main.tf"), requiredProviders+m.String())
		tf.expect(t, work, 0, "apply", "-auto-approve")
		return work
	}
	for name, format := range map[string]registrytest.ZarfFormat{
		"zst": registrytest.ZarfTarZst, "tar": registrytest.ZarfTar, "split": registrytest.ZarfSplit,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			built := registrytest.WriteZarfPackage(t, t.TempDir(), zarfPackageSpec(format))
			m := packageMirrors{cacheDir: t.TempDir(), registryHost: reg.Host, zarfRegistry: reg.Host + "/" + name, archive: built.Path}
			work := apply(t, m)
			m.mirroredAs(t, built)
			forbidUnpacking(t, m.cacheDir)
			says(t, tf.expect(t, work, 0, "plan", "-detailed-exitcode"), "No changes.")
			if err := checkOneCacheEntry(m.cacheDir)(nil); err != nil {
				t.Error(err)
			}
		})
	}
	t.Run("new package at the same path", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		first := registrytest.WriteZarfPackage(t, dir, zarfPackageSpec(registrytest.ZarfTarZst))
		m := packageMirrors{cacheDir: t.TempDir(), registryHost: reg.Host, zarfRegistry: reg.Host + "/drift", archive: first.Path}
		work := apply(t, m)
		m.mirroredAs(t, first)

		newer := zarfPackageSpec(registrytest.ZarfTarZst)
		newer.Components[0].Images[0].Index = &registrytest.IndexSpec{Images: testImages[1:3], Attestations: true}
		second := registrytest.WriteZarfPackage(t, dir, newer)
		if second.Path != first.Path || second.Images["nginx:1.27"].Digest == first.Images["nginx:1.27"].Digest {
			t.Fatal("the test needs another nginx:1.27 in a package at the same path")
		}
		says(t, tf.expect(t, work, 2, "plan", "-detailed-exitcode"),
			`zarf_image_mirror.app["nginx:1.27"] will be updated in-place`, "Plan: 0 to add, 1 to change, 0 to destroy.")
		tf.expect(t, work, 0, "apply", "-auto-approve")
		m.mirroredAs(t, second)
	})
}

// Tampered, hostile and unsigned (when public_key requires a signature) packages fail before
// any mirror is planned, and nothing is written at the target.
func TestAccImageMirror_zarfPackageRefused(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t)
	key := verifytest.NewKey(t, verifytest.ECDSAP256)
	tampered := zarfPackageSpec(registrytest.ZarfTarZst)
	tampered.Tamper = func(tb testing.TB, dir string) {
		blobs, _ := filepath.Glob(filepath.Join(dir, "images", "blobs", "sha256", "*"))
		if err := os.WriteFile(blobs[0], []byte("altered"), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	hostile := zarfPackageSpec(registrytest.ZarfTar)
	hostile.ExtraEntries = []registrytest.TarEntry{{Header: tar.Header{Typeflag: tar.TypeReg, Name: "../escape", Size: 1, Mode: 0o644}, Content: []byte("x")}}
	for name, tc := range map[string]struct {
		spec      registrytest.ZarfPackageSpec
		publicKey string
		want      []string
	}{
		"tampered": {spec: tampered, want: []string{"checksums.txt says", "The archive is damaged or was altered"}},
		"hostile":  {spec: hostile, want: []string{`"../escape"`, "get the package again from its publisher"}},
		"unsigned": {spec: zarfPackageSpec(registrytest.ZarfTarZst), publicKey: key.PublicKeyPEM(t), want: []string{"the package is not signed"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			built := registrytest.WriteZarfPackage(t, t.TempDir(), tc.spec)
			m := packageMirrors{cacheDir: t.TempDir(), registryHost: reg.Host, zarfRegistry: reg.Host + "/" + name, archive: built.Path, publicKey: tc.publicKey}
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviders,
				Steps:                    []resource.TestStep{{Config: m.String(), ExpectError: phrases(append([]string{"Cannot read Zarf package"}, tc.want...)...)}},
			})
			m.nothingAt(t, built.Images)
		})
	}
}

// A package source naming an image the package does not hold lists those it holds; a package
// is never a target.
func TestAccImageMirror_zarfPackageReferences(t *testing.T) {
	t.Parallel()
	built := registrytest.WriteZarfPackage(t, t.TempDir(), zarfPackageSpec(registrytest.ZarfTarZst))
	cacheDir := t.TempDir()
	mirror := func(source, target string) string {
		return packageConfig(cacheDir, mirrorResource(source, target))
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: mirror("zarf-package://"+built.Path+":nginx:1.28", "127.0.0.1:1/app/nginx"),
				ExpectError: phrases("holds no image nginx:1.28", "the images it holds are: nginx:1.27, ghcr.io/acme/tool:2",
					"Write zarf-package://"+built.Path+":<one of them>"),
			},
			{
				Config:      mirror("127.0.0.1:1/app/nginx:1.27", "zarf-package://"+built.Path+":nginx:1.27"),
				ExpectError: phrases("zarf-package://"+built.Path, "can be read from, not written to"),
			},
			{
				Config:      mirror("zarf-package://"+built.Path, "127.0.0.1:1/app/nginx"),
				ExpectError: phrases("name the image in the package"),
			},
		},
	})
}

// A target written with or without the tag that a package image gives it names one place: the
// change is an update, not a replacement.
func TestSameDestination_zarfPackage(t *testing.T) {
	source := types.StringValue("zarf-package://app.tar.zst:nginx:1.27")
	for target, same := range map[string]bool{"r.example/app/nginx:1.27": true, "r.example/app/nginx:1.28": false} {
		if got := sameDestination(source, types.StringValue("r.example/app/nginx"), source, types.StringValue(target)); got != same {
			t.Errorf("r.example/app/nginx and %s are one destination of %s: %t, want %t", target, source, got, same)
		}
	}
}
