package mirror_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/zarf-dev/terraform-provider-zarf/internal/mirror"
	"github.com/zarf-dev/terraform-provider-zarf/internal/registry"
	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
	"github.com/zarf-dev/terraform-provider-zarf/internal/store/layout"
)

func tagsEngine(t *testing.T, hosts ...string) *mirror.Engine {
	t.Helper()
	c, err := registry.New(registry.Config{InsecureRegistries: hosts, Keychain: authn.NewMultiKeychain()})
	if err != nil {
		t.Fatal(err)
	}
	return mirror.New(mirror.WithScheme(c))
}

func TestTagsOfARegistryRepository(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, registrytest.WithMaxTags(2))
	d := registrytest.PushImage(t, reg.Ref("app/web:6.10.0"), registrytest.ImageSpec{Platform: "linux/amd64", Layers: []int64{100}}, "")
	reg.WriteTags(t, "app/web", d.Digest, "6.4.0", "6.9.0", "latest", "v7.0.0-rc.1")
	proxy := registrytest.NewProxy(t, reg)
	e := tagsEngine(t, proxy.Host)

	got, err := e.Tags(t.Context(), proxy.Ref("app/web"))
	if want := []string{"6.10.0", "6.4.0", "6.9.0", "latest", "v7.0.0-rc.1"}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("Tags = %q, %v; want %q (the registry's order)", got, err, want)
	}
	counts := proxy.Counts()
	if n := counts[registrytest.Call{Method: http.MethodGet, Kind: registrytest.KindTags}]; n != 3 {
		t.Errorf("%d tag list requests for 5 tags in pages of 2, want 3", n)
	}
	for call, n := range counts {
		if call.Kind != registrytest.KindTags && call.Kind != registrytest.KindOther {
			t.Errorf("Tags sent %d %s %s requests", n, call.Method, call.Kind)
		}
	}

	_, err = e.Tags(t.Context(), proxy.Ref("app/none"))
	if want := proxy.Ref("app/none") + " was not found in registry " + proxy.Host; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Tags of a missing repository = %v, want it to say %q", err, want)
	}
}

// writeLayout writes an OCI image layout whose index.json lists entries (its blobs are not
// needed to list tags).
func writeLayout(t *testing.T, entries []v1.Descriptor) string {
	t.Helper()
	dir := t.TempDir()
	raw, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: "application/vnd.oci.image.index.v1+json", Manifests: entries})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func entry(refName string) v1.Descriptor {
	d := v1.Descriptor{MediaType: "application/vnd.oci.image.index.v1+json", Size: 100,
		Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}}
	if refName != "" {
		d.Annotations = map[string]string{store.AnnotationRefName: refName, store.AnnotationBaseName: "ghcr.io/acme/app:" + refName}
	}
	return d
}

func TestTagsOfALayout(t *testing.T) {
	t.Parallel()
	e := mirror.New()
	// Ref names in index.json order, each once; entries without one (a referrer, an untagged
	// root) have no tag.
	dir := writeLayout(t, []v1.Descriptor{entry("1.10.0"), entry(""), entry("1.9.0"), entry("1.10.0"), entry("docker.io/library/nginx:1.27")})
	got, err := e.Tags(t.Context(), layout.Prefix+dir)
	if want := []string{"1.10.0", "1.9.0", "docker.io/library/nginx:1.27"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("Tags = %q, %v; want %q", got, err, want)
	}

	many := make([]v1.Descriptor, 1500)
	for i := range many {
		many[i] = entry(fmt.Sprintf("2.%d.0", i))
	}
	if got, err := e.Tags(t.Context(), layout.Prefix+writeLayout(t, many)); err != nil || len(got) != 1500 || got[1499] != "2.1499.0" {
		t.Errorf("Tags of a layout of 1,500 entries = %d tags, %v", len(got), err)
	}

	empty := writeLayout(t, nil)
	if got, err := e.Tags(t.Context(), layout.Prefix+empty); err != nil || got == nil || len(got) != 0 {
		t.Errorf("Tags of an empty layout = %#v, %v; want an empty list", got, err)
	}

	_, err = e.Tags(t.Context(), layout.Prefix+filepath.Join(empty, "missing"))
	if err == nil || !strings.Contains(err.Error(), "is not an OCI image layout (it has no index.json)") {
		t.Errorf("Tags of a missing layout = %v", err)
	}
}

func TestTagsRepositoryErrors(t *testing.T) {
	e := mirror.New()
	for in, want := range map[string]string{
		"ghcr.io/acme/app:1.0":                                      "it names an image, but a repository names none: write ghcr.io/acme/app",
		"nginx@sha256:" + strings.Repeat("b", 64):                   "write index.docker.io/library/nginx",
		"oci-layout://pkg/images:1.0":                               "a repository names none: write oci-layout://pkg/images",
		"oci-layout://pkg/images@sha256:" + strings.Repeat("b", 64): "write oci-layout://pkg/images",
		"https://ghcr.io/acme/app":                                  "without a scheme",
		"":                                                          "it is empty",
	} {
		_, err := e.Tags(t.Context(), in)
		var rerr *mirror.ReferenceError
		if !errors.As(err, &rerr) || rerr.Role != store.RoleRepository || !strings.Contains(err.Error(), want) {
			t.Errorf("Tags(%q) = %v, want a ReferenceError of repository saying %q", in, err, want)
		}
	}
}
