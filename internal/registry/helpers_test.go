package registry

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
)

// newCA is a CA for one test.
func newCA(t *testing.T) *registrytest.CA { return registrytest.TestCA(t) }

// serverCert issues a certificate for 127.0.0.1 and localhost.
func serverCert(t *testing.T, ca *registrytest.CA) tls.Certificate {
	t.Helper()
	cert, err := ca.Issue()
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// fakeRegistry is go-containerregistry's in-memory registry behind optional basic
// authentication, recording the requests it receives.
type fakeRegistry struct {
	*httptest.Server
	registry       http.Handler
	user, password string
	intercept      func(http.ResponseWriter, *http.Request) bool // true: request answered

	mu       sync.Mutex
	auths    []string // every Authorization header received
	requests int
	conns    int // connections accepted
}

type serverOption func(*fakeRegistry)

// withStore makes the registry serve the content of another one.
func withStore(other *fakeRegistry) serverOption {
	return func(f *fakeRegistry) { f.registry = other.registry }
}

// withIntercept lets a test answer some requests itself: intercept returns true for those.
func withIntercept(intercept func(http.ResponseWriter, *http.Request) bool) serverOption {
	return func(f *fakeRegistry) { f.intercept = intercept }
}

// withBasicAuth makes the registry answer 401 with a Basic challenge without these credentials.
func withBasicAuth(user, password string) serverOption {
	return func(f *fakeRegistry) { f.user, f.password = user, password }
}

func (f *fakeRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests++
	if a := r.Header.Get("Authorization"); a != "" {
		f.auths = append(f.auths, a)
	}
	f.mu.Unlock()
	if f.intercept != nil && f.intercept(w, r) {
		return
	}
	if f.user != "" {
		if u, p, ok := r.BasicAuth(); !ok || u != f.user || p != f.password {
			w.Header().Set("WWW-Authenticate", `Basic realm="fake registry"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
	}
	f.registry.ServeHTTP(w, r)
}

// countConnections counts the connections the server accepts (set before it starts).
func (f *fakeRegistry) countConnections(_ net.Conn, state http.ConnState) {
	if state == http.StateNew {
		f.mu.Lock()
		f.conns++
		f.mu.Unlock()
	}
}

// connections is the number of connections the server accepted.
func (f *fakeRegistry) connections() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.conns
}

func (f *fakeRegistry) seen() (requests int, auths []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests, append([]string(nil), f.auths...)
}

// host is the registry's host:port.
func (f *fakeRegistry) host() string {
	u, err := url.Parse(f.URL)
	if err != nil {
		panic(err)
	}
	return u.Host
}

// newPlainRegistry starts a fake registry that serves plain HTTP.
func newPlainRegistry(t *testing.T, opts ...serverOption) *fakeRegistry {
	t.Helper()
	f := &fakeRegistry{registry: ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))}
	for _, o := range opts {
		o(f)
	}
	f.Server = httptest.NewUnstartedServer(f)
	f.Config.ErrorLog = log.New(io.Discard, "", 0)
	f.Config.ConnState = f.countConnections
	f.Start()
	t.Cleanup(f.Close)
	return f
}

// newTLSRegistry starts a fake registry that serves HTTPS with a certificate from ca.
func newTLSRegistry(t *testing.T, ca *registrytest.CA, opts ...serverOption) *fakeRegistry {
	t.Helper()
	f := &fakeRegistry{registry: ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))}
	for _, o := range opts {
		o(f)
	}
	f.Server = httptest.NewUnstartedServer(f)
	f.Config.ErrorLog = log.New(io.Discard, "", 0) // failed handshakes are expected
	f.Config.ConnState = f.countConnections
	f.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert(t, ca)}}
	f.StartTLS()
	t.Cleanup(f.Close)
	return f
}

func newClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	if cfg.Keychain == nil {
		cfg.Keychain = staticKeychain{} // keep the developer's Docker config out of tests
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pushAndHead writes a small random image to ref and reads its descriptor back.
func pushAndHead(t *testing.T, c *Client, ref string) error {
	t.Helper()
	r, err := c.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	opts := c.RemoteOptions(t.Context())
	if err := remote.Write(r, img, opts...); err != nil {
		return err
	}
	_, err = remote.Head(r, opts...)
	return err
}

// staticKeychain returns fixed credentials per registry host, anonymous for others.
type staticKeychain map[string]authn.AuthConfig

func (k staticKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if cfg, ok := k[r.RegistryStr()]; ok {
		return authn.FromConfig(cfg), nil
	}
	return authn.Anonymous, nil
}

// sleepRecorder is a Config.Sleep that records the waits and does not wait.
type sleepRecorder struct {
	mu     sync.Mutex
	sleeps []time.Duration
}

func (s *sleepRecorder) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sleeps = append(s.sleeps, d)
	return ctx.Err()
}

func (s *sleepRecorder) recorded() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.sleeps...)
}

func mustRegistry(t *testing.T, host string) name.Registry {
	t.Helper()
	r, err := name.NewRegistry(host)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func intPtr(n int) *int { return &n }
