package registry

import (
	"errors"
	"net/http"
	"testing"

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
