package zarfpackage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
)

// testIndex is a small multi-platform index with BuildKit attestations.
var testIndex = registrytest.IndexSpec{
	Images: []registrytest.ImageSpec{
		{Platform: "linux/amd64", Layers: []int64{2048}, Seed: 1},
		{Platform: "linux/arm64", Layers: []int64{1024, 512}, Seed: 2},
	},
	Attestations: true,
}

// testSpec is a package of two components sharing an image, in format f.
func testSpec(f registrytest.ZarfFormat) registrytest.ZarfPackageSpec {
	single := registrytest.ImageSpec{Platform: "linux/amd64", Layers: []int64{3000}, Seed: 3}
	return registrytest.ZarfPackageSpec{
		Name: "app", Version: "1.2.3", Format: f,
		Components: []registrytest.ZarfComponentSpec{
			{Name: "web", Images: []registrytest.ZarfImageSpec{
				{Ref: "nginx:1.27", Index: &testIndex},
				{Ref: "ghcr.io/acme/tool:2", Image: &single},
			}},
			{Name: "db", Images: []registrytest.ZarfImageSpec{
				{Ref: "ghcr.io/acme/tool:2", Image: &single},
				{Ref: "registry.example:5000/db@sha256:" + strings.Repeat("ab", 32), Index: &testIndex},
			}},
		},
	}
}

// newCache is a cache in a fresh directory.
func newCache(t *testing.T, opts ...Option) *Cache {
	t.Helper()
	c, err := NewCache(filepath.Join(t.TempDir(), "cache"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// open opens archive and fails the test on an error.
func open(t *testing.T, c *Cache, archive string, opts ...OpenOption) *Package {
	t.Helper()
	p, err := c.Open(context.Background(), archive, opts...)
	if err != nil {
		t.Fatalf("Open(%s): %v", archive, err)
	}
	return p
}

// wantRefused checks that err refuses the archive for problem, with a message containing
// every one of parts.
func wantRefused(t *testing.T, err error, problem Problem, parts ...string) {
	t.Helper()
	var refused *RefusedError
	if !errors.As(err, &refused) {
		t.Fatalf("got %v, want a *RefusedError (problem %d)", err, problem)
	}
	if refused.Problem != problem {
		t.Errorf("problem %d, want %d: %v", refused.Problem, problem, err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not say %q", err, p)
		}
	}
}

// wantNothingCached checks that the cache holds no entry and no unpacking in progress.
func wantNothingCached(t *testing.T, c *Cache) {
	t.Helper()
	for _, d := range []string{entriesDir, tmpDir} {
		names, _ := os.ReadDir(filepath.Join(c.Dir(), d))
		for _, n := range names {
			t.Errorf("%s/%s is left in the cache", d, n.Name())
		}
	}
}

// countArchiveOpens counts the files of archives opened until the test ends. Tests that use
// it do not run in parallel.
func countArchiveOpens(t *testing.T) *int {
	t.Helper()
	n := 0
	t.Cleanup(func() { openArchiveFile = os.Open })
	openArchiveFile = func(name string) (*os.File, error) {
		n++
		return os.Open(name)
	}
	return &n
}
