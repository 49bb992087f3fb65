package mirror

// An in-process registry (go-containerregistry's pkg/registry) for the engine tests that need a
// registry's HTTP behaviour: it records the requests it serves, and a hook may answer a request
// instead of it. Content comes from internal/registrytest's generator (fixtures_test.go).

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registry"
	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
)

// testRegistry is an in-process registry that records the requests it serves. A hook may answer
// a request instead of the registry.
type testRegistry struct {
	srv  *httptest.Server
	host string

	mu   sync.Mutex
	reqs []recordedRequest
	hook func(w http.ResponseWriter, r *http.Request) bool
}

type recordedRequest struct {
	Method, Path, ContentType string
}

// newTestRegistry starts a registry without the OCI referrers API, so that writes of manifests
// with a subject maintain the sha256-<hex> fallback tag, as with the distribution registry.
func newTestRegistry(t testing.TB) *testRegistry { return newRegistryWithReferrers(t, false) }

// newRegistryWithReferrers starts a registry, with the OCI referrers API when api is true.
func newRegistryWithReferrers(t testing.TB, api bool) *testRegistry {
	t.Helper()
	r := &testRegistry{}
	h := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)), ggcrregistry.WithReferrersSupport(api))
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.reqs = append(r.reqs, recordedRequest{Method: req.Method, Path: req.URL.Path, ContentType: req.Header.Get("Content-Type")})
		hook := r.hook
		r.mu.Unlock()
		if hook != nil && hook(w, req) {
			return
		}
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(r.srv.Close)
	r.host = strings.TrimPrefix(r.srv.URL, "http://")
	return r
}

func (r *testRegistry) setHook(h func(w http.ResponseWriter, r *http.Request) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hook = h
}

// requests returns the recorded requests and forgets them.
func (r *testRegistry) requests() []recordedRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.reqs
	r.reqs = nil
	return out
}

// writer writes generated content into the repository path.
func (r *testRegistry) writer(t testing.TB, path string) *registrytest.Writer {
	t.Helper()
	return registrytest.At(t, r.host+"/"+path)
}

// getRaw reads a manifest as a client would, returning its bytes and Content-Type.
func (r *testRegistry) getRaw(t testing.TB, repo, reference string) ([]byte, string, int) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, r.srv.URL+"/v2/"+repo+"/manifests/"+reference, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", strings.Join([]string{
		string(types.OCIImageIndex), string(types.OCIManifestSchema1),
		string(types.DockerManifestList), string(types.DockerManifestSchema2),
	}, ","))
	resp, err := r.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b, resp.Header.Get("Content-Type"), resp.StatusCode
}

// deleteRaw sends DELETE /v2/<repo>/manifests/<reference> through the registry API.
func (r *testRegistry) deleteRaw(t testing.TB, repo, reference string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodDelete, r.srv.URL+"/v2/"+repo+"/manifests/"+reference, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := r.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE %s@%s: HTTP %d", repo, reference, resp.StatusCode)
	}
}

// testEngine is an Engine whose registry client reaches the in-process registries (see
// testClient).
func testEngine(t testing.TB, regs ...*testRegistry) *Engine {
	t.Helper()
	return New(WithScheme(testClient(t, regs...)), WithJobs(3))
}

// testClient is a registry client that reaches the in-process registries (plain HTTP,
// anonymous), retrying without waiting.
func testClient(t testing.TB, regs ...*testRegistry) *registry.Client {
	t.Helper()
	hosts := make([]string, len(regs))
	for i, r := range regs {
		hosts[i] = r.host
	}
	c, err := registry.New(registry.Config{
		InsecureRegistries: hosts,
		Keychain:           authn.NewMultiKeychain(), // anonymous, whatever the Docker config says
		Sleep:              func(context.Context, time.Duration) error { return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
