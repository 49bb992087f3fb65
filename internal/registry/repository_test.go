package registry

import (
	"errors"
	"net/http"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// TestRejection: which registry answers to a manifest push are a refusal of the manifest, and
// which name what the registry lacks.
func TestRejection(t *testing.T) {
	digest := "sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, c := range []struct {
		name       string
		err        error
		rejected   bool
		incomplete bool
		missing    int
	}{
		{"blob unknown, named", &transport.Error{StatusCode: http.StatusBadRequest, Errors: []transport.Diagnostic{{Code: manifestBlobUnknown, Detail: digest}}}, true, true, 1},
		{"blob unknown, unnamed", &transport.Error{StatusCode: http.StatusBadRequest, Errors: []transport.Diagnostic{{Code: manifestBlobUnknown}}}, true, true, 0},
		{"invalid", &transport.Error{StatusCode: http.StatusBadRequest, Errors: []transport.Diagnostic{{Code: transport.ManifestInvalidErrorCode}}}, true, false, 0},
		{"bare 400", &transport.Error{StatusCode: http.StatusBadRequest}, true, false, 0},
		{"denied", &transport.Error{StatusCode: http.StatusForbidden, Errors: []transport.Diagnostic{{Code: transport.DeniedErrorCode}}}, false, false, 0},
		{"not a registry answer", errors.New("connection reset"), false, false, 0},
	} {
		r := rejection(c.err)
		if (r != nil) != c.rejected || (r != nil && (r.Incomplete != c.incomplete || len(r.Missing) != c.missing)) {
			t.Errorf("%s: rejection = %+v", c.name, r)
		}
	}
}

// TestExplainedNotFound: an explained 404 is store.ErrNotFound, other kinds are not.
func TestExplainedNotFound(t *testing.T) {
	c := newClient(t, Config{})
	notFound := c.Explain(&transport.Error{StatusCode: http.StatusNotFound}, "registry.example/a/b:1")
	if !errors.Is(notFound, store.ErrNotFound) {
		t.Fatalf("%v is not store.ErrNotFound", notFound)
	}
	if denied := c.Explain(&transport.Error{StatusCode: http.StatusForbidden}, "registry.example/a/b:1"); errors.Is(denied, store.ErrNotFound) {
		t.Fatalf("%v is store.ErrNotFound", denied)
	}
}

// TestUntag: Untag removes the tag alone; the manifest stays, by digest and under its other tags,
// and a tag that is gone already is no error.
func TestUntag(t *testing.T) {
	reg := newPlainRegistry(t)
	c := newClient(t, Config{InsecureRegistries: []string{reg.host()}})
	repo := mustRepository(t, reg.host()+"/mirror/app")
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"mirror", "other"} {
		if err := remote.Write(repo.Tag(tag), img, c.RemoteOptions(t.Context())...); err != nil {
			t.Fatal(err)
		}
	}
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	r := c.Repository(repo)
	if err := r.Untag(t.Context(), "mirror"); err != nil {
		t.Fatalf("Untag: %v", err)
	}
	if _, err := r.Resolve(t.Context(), "mirror"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the tag after Untag: %v, want store.ErrNotFound", err)
	}
	for _, ref := range []string{digest.String(), "other"} {
		if d, err := r.Resolve(t.Context(), ref); err != nil || d.Digest != digest {
			t.Fatalf("%s after Untag: %v, %v; want the manifest %s kept", ref, d.Digest, err, digest)
		}
	}
	if err := r.Untag(t.Context(), "mirror"); err != nil {
		t.Fatalf("Untag of a tag that is gone: %v", err)
	}
}
