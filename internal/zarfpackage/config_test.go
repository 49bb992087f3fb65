package zarfpackage

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

var signedTrue = true

func TestParseConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		yaml       string
		want       Config
		wantImages []string
		wantErr    string
	}{
		{name: "v1alpha1 without apiVersion", yaml: `
kind: ZarfPackageConfig
metadata: {name: app, version: 1.0.0, architecture: arm64, aggregateChecksum: abc}
build: {architecture: amd64, signed: true, provenanceFiles: [zarf.bundle.sig]}
components:
  - name: a
    images: [nginx:1.27, ghcr.io/x/y:1]
    imageArchives: [{path: images.tar, images: [ghcr.io/x/z:2]}]
  - name: b
    images: [nginx:1.27]
  - name: c
`, want: Config{APIVersion: apiVersionV1Alpha1, Name: "app", Version: "1.0.0", Architecture: "arm64", AggregateChecksum: "abc",
			Signed: &signedTrue, ProvenanceFiles: []string{"zarf.bundle.sig"}},
			wantImages: []string{"nginx:1.27", "ghcr.io/x/y:1", "ghcr.io/x/z:2"}},
		{name: "architecture from build", yaml: "kind: ZarfPackageConfig\nmetadata: {name: app}\nbuild: {architecture: amd64}\n",
			want: Config{APIVersion: apiVersionV1Alpha1, Name: "app", Architecture: "amd64"}, wantImages: []string{}},
		{name: "v1beta1", yaml: `
apiVersion: zarf.dev/v1beta1
kind: ZarfPackageConfig
metadata: {name: app, version: "2"}
build: {architecture: amd64, aggregateChecksum: def}
components:
  - name: a
    images: [{name: nginx:1.27}, {name: "ghcr.io/x/y:1", source: daemon}]
`, want: Config{APIVersion: apiVersionV1Beta1, Name: "app", Version: "2", Architecture: "amd64", AggregateChecksum: "def"},
			wantImages: []string{"nginx:1.27", "ghcr.io/x/y:1"}},
		// Zarf's ParseMultiDoc: the v1alpha1 document wins; documents of unknown versions are
		// ignored.
		{name: "several documents", yaml: `
apiVersion: zarf.dev/v1beta1
kind: ZarfPackageConfig
metadata: {name: beta}
---
apiVersion: zarf.dev/v1alpha1
kind: ZarfPackageConfig
metadata: {name: alpha}
---
apiVersion: zarf.dev/v9
kind: Other
`, want: Config{APIVersion: apiVersionV1Alpha1, Name: "alpha"}, wantImages: []string{}},
		{name: "another kind", yaml: "kind: ZarfInitConfig\nmetadata: {name: init}\n", wantErr: `kind "ZarfInitConfig", not ZarfPackageConfig`},
		{name: "no kind", yaml: "metadata: {name: x}\n", wantErr: `kind "", not ZarfPackageConfig`},
		{name: "unknown version only", yaml: "apiVersion: zarf.dev/v2\nkind: ZarfPackageConfig\n", wantErr: `only "zarf.dev/v2"`},
		{name: "same version twice", yaml: "kind: ZarfPackageConfig\n---\napiVersion: zarf.dev/v1alpha1\nkind: ZarfPackageConfig\n", wantErr: "two documents"},
		{name: "empty", yaml: "", wantErr: "empty"},
		{name: "not YAML", yaml: "kind: [", wantErr: "not valid YAML"},
		{name: "wrong shape", yaml: "kind: ZarfPackageConfig\ncomponents: {a: b}\n", wantErr: "zarf.yaml (zarf.dev/v1alpha1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseConfig([]byte(tc.yaml))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if images := got.Images(); !slices.Equal(images, tc.wantImages) {
				t.Errorf("images %q, want %q", images, tc.wantImages)
			}
			if !configEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func configEqual(a, b Config) bool {
	signed := func(c Config) string { return fmt.Sprint(c.Signed != nil, c.Signed != nil && *c.Signed) }
	return signed(a) == signed(b) && a.APIVersion == b.APIVersion && a.Name == b.Name && a.Version == b.Version && a.Architecture == b.Architecture &&
		a.AggregateChecksum == b.AggregateChecksum && slices.Equal(a.ProvenanceFiles, b.ProvenanceFiles)
}

func TestParseChecksums(t *testing.T) {
	t.Parallel()
	sum := strings.Repeat("0a", 32)
	got, err := parseChecksums([]byte(sum + " images/index.json\n" + sum + " components/a.tar\n"))
	if err != nil || len(got) != 2 || got["images/index.json"] != sum {
		t.Errorf("got %v, %v", got, err)
	}
	for _, bad := range []string{
		"nohash images/index.json",
		sum + "  two-spaces",
		strings.ToUpper(sum) + " upper",
		sum + " /abs",
		sum + " ../up",
		sum + " images/../x",
		sum + " a\n" + sum + " a",
		sum,
	} {
		if _, err := parseChecksums([]byte(bad)); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}
