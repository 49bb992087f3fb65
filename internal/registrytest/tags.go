package registrytest

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// tagPattern is a valid tag (OCI distribution specification); it has no path separators.
var tagPattern = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)

// WriteTags gives the manifest digest, pushed to repository before, each of tags, by
// writing them into the registry's storage as distribution's tag store does (a current link
// and an index link per tag, in the filesystem driver's layout, which distribution v2 and v3
// share). It makes a repository of thousands of tags in milliseconds, where as many manifest
// PUTs take tens of seconds on a busy machine; the registry serves the tags at once, as it
// reads them from storage on every request. Only registry processes have storage to write
// to: an in-process registry of [Implementations] fails the test.
func (r *Registry) WriteTags(tb testing.TB, repository string, digest v1.Hash, tags ...string) {
	tb.Helper()
	if r.dataDir == "" {
		tb.Fatalf("registrytest: %s keeps its content in memory; WriteTags needs a registry process", r.Name)
	}
	manifests := filepath.Join(r.dataDir, "docker", "registry", "v2", "repositories", filepath.FromSlash(repository), "_manifests")
	if _, err := os.Stat(filepath.Join(manifests, "revisions", digest.Algorithm, digest.Hex, "link")); err != nil {
		tb.Fatalf("registrytest: %s holds no manifest %s to tag (push it first): %v", repository, digest, err)
	}
	link := []byte(digest.String())
	for _, tag := range tags {
		if !tagPattern.MatchString(tag) {
			tb.Fatalf("registrytest: %q is not a valid tag", tag)
		}
		dir := filepath.Join(manifests, "tags", tag)
		for _, path := range []string{
			filepath.Join(dir, "index", digest.Algorithm, digest.Hex, "link"),
			filepath.Join(dir, "current", "link"),
		} {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				tb.Fatalf("registrytest: %v", err)
			}
			if err := os.WriteFile(path, link, 0o644); err != nil {
				tb.Fatalf("registrytest: writing tag %s: %v", tag, err)
			}
		}
	}
}
