package provider

import (
	"archive/tar"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
	"github.com/zarf-dev/terraform-provider-zarf/internal/verify/verifytest"
)

// zarfPackageSpec is a package of two components that share an image, in format f.
func zarfPackageSpec(f registrytest.ZarfFormat) registrytest.ZarfPackageSpec {
	index := registrytest.IndexSpec{Images: testImages[:2], Attestations: true}
	tool := testImages[2]
	return registrytest.ZarfPackageSpec{
		Name: "app", Version: "1.0.0", Format: f,
		Components: []registrytest.ZarfComponentSpec{
			{Name: "web", Images: []registrytest.ZarfImageSpec{
				{Ref: "nginx:1.27", Index: &index},
				{Ref: "ghcr.io/acme/tool:2", Image: &tool},
			}},
			{Name: "tools", Images: []registrytest.ZarfImageSpec{{Ref: "ghcr.io/acme/tool:2", Image: &tool}}},
			{Name: "config"},
		},
	}
}

// zarfPackageChecks are the outputs of zarf_package at addr for zarfPackageSpec.
func zarfPackageChecks(addr string) []statecheck.StateCheck {
	strs := func(ss ...string) knownvalue.Check {
		checks := make([]knownvalue.Check, len(ss))
		for i, s := range ss {
			checks[i] = knownvalue.StringExact(s)
		}
		return knownvalue.ListExact(checks)
	}
	component := func(name string, images knownvalue.Check) knownvalue.Check {
		return knownvalue.ObjectExact(map[string]knownvalue.Check{"name": knownvalue.StringExact(name), "images": images})
	}
	return []statecheck.StateCheck{
		statecheck.ExpectKnownValue(addr, tfjsonpath.New("name"), knownvalue.StringExact("app")),
		statecheck.ExpectKnownValue(addr, tfjsonpath.New("version"), knownvalue.StringExact("1.0.0")),
		statecheck.ExpectKnownValue(addr, tfjsonpath.New("architecture"), knownvalue.StringExact("amd64")),
		// Deduplicated, in component order.
		statecheck.ExpectKnownValue(addr, tfjsonpath.New("images"), strs("nginx:1.27", "ghcr.io/acme/tool:2")),
		statecheck.ExpectKnownValue(addr, tfjsonpath.New("components"), knownvalue.ListExact([]knownvalue.Check{
			component("web", strs("nginx:1.27", "ghcr.io/acme/tool:2")),
			component("tools", strs("ghcr.io/acme/tool:2")),
			component("config", knownvalue.ListExact([]knownvalue.Check{})),
		})),
	}
}

// packageConfig is a provider block with cache_dir, then body.
func packageConfig(cacheDir, body string) string {
	return fmt.Sprintf("provider \"zarf\" {\n  cache_dir = %q\n}\n", cacheDir) + body
}

func TestAccZarfPackage_formats(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var body string
	var checks []statecheck.StateCheck
	for name, format := range map[string]registrytest.ZarfFormat{
		"zst": registrytest.ZarfTarZst, "tar": registrytest.ZarfTar, "split": registrytest.ZarfSplit,
	} {
		built := registrytest.WriteZarfPackage(t, filepath.Join(dir, name), zarfPackageSpec(format))
		body += fmt.Sprintf("data \"zarf_package\" %q {\n  path = %q\n}\n", name, built.Path)
		checks = append(checks, zarfPackageChecks("data.zarf_package."+name)...)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps:                    []resource.TestStep{{Config: packageConfig(t.TempDir(), body), ConfigStateChecks: checks}},
	})
}

// A second plan reads the package from the cache: it does not unpack it again (the cache's
// folder for unpacking is made unusable before it, so an unpacking would fail).
func TestAccZarfPackage_secondPlanDoesNotUnpack(t *testing.T) {
	t.Parallel()
	built := registrytest.WriteZarfPackage(t, t.TempDir(), zarfPackageSpec(registrytest.ZarfTarZst))
	cacheDir := t.TempDir()
	config := packageConfig(cacheDir, fmt.Sprintf("data \"zarf_package\" \"app\" {\n  path = %q\n}\n", built.Path))
	again := config + fmt.Sprintf("data \"zarf_package\" \"again\" {\n  path = %q\n}\n", built.Path)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{Config: config, ConfigStateChecks: zarfPackageChecks("data.zarf_package.app"), Check: checkOneCacheEntry(cacheDir)},
			{
				PreConfig: func() {
					tmp := filepath.Join(cacheDir, "tmp")
					if err := os.RemoveAll(tmp); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(tmp, []byte("no unpacking here"), 0o644); err != nil {
						t.Fatal(err)
					}
				},
				Config:            again,
				ConfigStateChecks: append(zarfPackageChecks("data.zarf_package.app"), zarfPackageChecks("data.zarf_package.again")...),
				Check:             checkOneCacheEntry(cacheDir),
			},
		},
	})
}

// checkOneCacheEntry checks that the cache holds exactly one unpacked package.
func checkOneCacheEntry(cacheDir string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		entries, err := os.ReadDir(filepath.Join(cacheDir, "entries"))
		if err != nil || len(entries) != 1 {
			return fmt.Errorf("the cache holds %d unpacked packages (%v), want 1", len(entries), err)
		}
		return nil
	}
}

// Altered and hostile packages are refused with what is wrong and what to do, on the path
// attribute, and nothing of them stays in the cache.
func TestAccZarfPackage_refused(t *testing.T) {
	t.Parallel()
	altered := zarfPackageSpec(registrytest.ZarfTarZst)
	altered.Tamper = func(tb testing.TB, dir string) {
		if err := os.Remove(filepath.Join(dir, "components", "web.tar")); err != nil {
			tb.Fatal(err)
		}
	}
	hostile := zarfPackageSpec(registrytest.ZarfTarZst)
	hostile.ExtraEntries = []registrytest.TarEntry{{Header: tar.Header{Typeflag: tar.TypeSymlink, Name: "images/blobs/evil", Linkname: "/etc"}}}
	for name, tc := range map[string]struct {
		spec registrytest.ZarfPackageSpec
		want *regexp.Regexp
	}{
		"altered": {spec: altered, want: phrases(`Cannot read Zarf package`, `"components/web.tar": listed in checksums.txt but missing from the archive`,
			`The archive is damaged or was altered: copy it again from its source`)},
		"hostile": {spec: hostile, want: phrases(`"images/blobs/evil": a link to "/etc" (leaving the package folder)`,
			`get the package again from its publisher`)},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			built := registrytest.WriteZarfPackage(t, t.TempDir(), tc.spec)
			cacheDir := t.TempDir()
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviders,
				Steps: []resource.TestStep{{
					Config:      packageConfig(cacheDir, fmt.Sprintf("data \"zarf_package\" \"app\" {\n  path = %q\n}\n", built.Path)),
					ExpectError: tc.want,
				}},
			})
			for _, d := range []string{"entries", "tmp"} {
				if left, _ := os.ReadDir(filepath.Join(cacheDir, d)); len(left) != 0 {
					t.Errorf("%d files are left in the cache's %s/", len(left), d)
				}
			}
		})
	}
}

// public_key: the package's signature is verified with real keys, in the forms Zarf writes;
// another key and an unsigned package are errors on public_key.
func TestAccZarfPackage_publicKey(t *testing.T) {
	t.Parallel()
	key, other := verifytest.NewKey(t, verifytest.ECDSAP256), verifytest.NewKey(t, verifytest.Ed25519)
	dir := t.TempDir()
	bundled := zarfPackageSpec(registrytest.ZarfTarZst)
	bundled.Sign = func(zarfYAML []byte) registrytest.ZarfSignatures {
		return registrytest.ZarfSignatures{Bundle: verifytest.SignBlobBundle(t, zarfYAML, key, verifytest.Options{})}
	}
	legacy := zarfPackageSpec(registrytest.ZarfTar)
	legacy.Sign = func(zarfYAML []byte) registrytest.ZarfSignatures {
		return registrytest.ZarfSignatures{CosignBlob: key.SignBlob(t, zarfYAML)}
	}
	signedBundle := registrytest.WriteZarfPackage(t, filepath.Join(dir, "bundle"), bundled)
	signedLegacy := registrytest.WriteZarfPackage(t, filepath.Join(dir, "legacy"), legacy)
	unsigned := registrytest.WriteZarfPackage(t, filepath.Join(dir, "unsigned"), zarfPackageSpec(registrytest.ZarfTarZst))
	read := func(name, archive, publicKey string) string {
		return fmt.Sprintf("data \"zarf_package\" %q {\n  path       = %q\n  public_key = %q\n}\n", name, archive, publicKey)
	}
	cacheDir := t.TempDir()
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: packageConfig(cacheDir, read("bundle", signedBundle.Path, key.PublicKeyPEM(t))+
					read("legacy", signedLegacy.Path, key.PublicKeyPEM(t))),
				ConfigStateChecks: append(zarfPackageChecks("data.zarf_package.bundle"), zarfPackageChecks("data.zarf_package.legacy")...),
			},
			{
				Config: packageConfig(cacheDir, read("app", signedBundle.Path, other.PublicKeyPEM(t))),
				ExpectError: phrases(`with data.zarf_package.app`, `public_key`, `"zarf.bundle.sig": does not verify zarf.yaml`,
					`Check that the public key is the one the package was signed with`),
			},
			{
				Config:      packageConfig(cacheDir, read("app", unsigned.Path, key.PublicKeyPEM(t))),
				ExpectError: phrases(`public_key`, `a public key was given to verify it with: the package is not signed`),
			},
		},
	})
}

// Configuration mistakes are found by terraform validate, on the attribute, with the fix.
func TestAccZarfPackage_invalidConfiguration(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	built := registrytest.WriteZarfPackage(t, t.TempDir(), zarfPackageSpec(registrytest.ZarfTarZst))
	body := fmt.Sprintf("data \"zarf_package\" \"app\" {\n  path = %q\n}\n", built.Path)
	certificate := fmt.Sprintf("data \"zarf_package\" \"app\" {\n  path       = %q\n  public_key = %q\n}\n",
		built.Path, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
	for name, tc := range map[string]struct {
		config string
		want   *regexp.Regexp
	}{
		"cache_dir with ~": {config: packageConfig("~/.cache/zarf", body), want: phrases(`Terraform does not expand ~`, `pathexpand("~/.cache/zarf")`)},
		"cache_dir empty":  {config: packageConfig(" ", body), want: phrases(`cache_dir is empty`)},
		"cache_dir a file": {config: packageConfig(file, body), want: phrases(`Invalid cache_dir`, file+` is a file, not a directory`)},
		"public_key a certificate": {config: packageConfig(t.TempDir(), certificate),
			want: phrases(`Invalid public key`, `with data.zarf_package.app`, `a certificate, not a public key`)},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviders,
				Steps:                    []resource.TestStep{{Config: tc.config, ExpectError: tc.want}},
			})
		})
	}
}
