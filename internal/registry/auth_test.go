package registry

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

func basic(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

func TestCredentialsGoOnlyToTheirHost(t *testing.T) {
	a := newPlainRegistry(t, withBasicAuth("alice", "a-secret"))
	b := newPlainRegistry(t, withBasicAuth("bob", "b-secret"))
	anon := newPlainRegistry(t)
	c := newClient(t, Config{
		InsecureRegistries: []string{a.host(), b.host(), anon.host()},
		Credentials:        []Credential{{Address: a.host(), Username: "alice", Password: "a-secret"}},
		Keychain: staticKeychain{
			a.host(): {Username: "mallory", Password: "keychain-secret"}, // registry_auth wins
			b.host(): {Username: "bob", Password: "b-secret"},
		},
	})
	for _, reg := range []*fakeRegistry{a, b, anon} {
		if err := pushAndHead(t, c, reg.host()+"/auth/app:v1"); err != nil {
			t.Fatalf("push to %s: %v", reg.host(), err)
		}
	}
	for reg, want := range map[*fakeRegistry]string{a: basic("alice", "a-secret"), b: basic("bob", "b-secret")} {
		_, auths := reg.seen()
		if len(auths) == 0 {
			t.Errorf("%s received no credentials", reg.host())
		}
		for _, got := range auths {
			if got != want {
				t.Errorf("%s received Authorization %q, want %q", reg.host(), got, want)
			}
		}
	}
	if _, auths := anon.seen(); len(auths) != 0 {
		t.Errorf("anonymous registry received credentials: %q", auths)
	}
}

func TestKeychainFoldsDockerHubAliases(t *testing.T) {
	c := newClient(t, Config{Credentials: []Credential{{Address: "docker.io", Username: "me", Password: "pat"}}})
	for _, host := range []string{"index.docker.io", "registry-1.docker.io", "docker.io"} {
		auth, err := c.keychain.Resolve(mustRegistry(t, host))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := auth.Authorization()
		if err != nil || cfg.Username != "me" || cfg.Password != "pat" {
			t.Errorf("%s: got %+v, %v; want the docker.io registry_auth", host, cfg, err)
		}
	}
	auth, err := c.keychain.Resolve(mustRegistry(t, "ghcr.io"))
	if err != nil || auth != authn.Anonymous {
		t.Errorf("ghcr.io: got %v, %v; want anonymous", auth, err)
	}
}

// TestRedirectDoesNotCarryAuthorization: blob downloads are redirected to storage; the
// registry's credentials must not follow.
func TestRedirectDoesNotCarryAuthorization(t *testing.T) {
	storage := newPlainRegistry(t)
	// reg shares storage's content and redirects authenticated blob reads there.
	reg := newPlainRegistry(t, withBasicAuth("alice", "a-secret"), withStore(storage),
		withIntercept(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/sha256:") || r.Header.Get("Authorization") == "" {
				return false
			}
			http.Redirect(w, r, storage.URL+r.URL.Path, http.StatusTemporaryRedirect)
			return true
		}))
	c := newClient(t, Config{
		InsecureRegistries: []string{reg.host(), storage.host()},
		Credentials:        []Credential{{Address: reg.host(), Username: "alice", Password: "a-secret"}},
	})
	ctx := t.Context()
	ref, err := c.ParseReference(reg.host() + "/redirect/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, c.RemoteOptions(ctx)...); err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	digest, err := layers[0].Digest()
	if err != nil {
		t.Fatal(err)
	}
	storageBefore, _ := storage.seen()
	layer, err := remote.Layer(ref.Context().Digest(digest.String()), c.RemoteOptions(ctx)...)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := layer.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, rc); err != nil { // the digest is verified while reading
		t.Fatal(err)
	}
	_ = rc.Close()
	storageAfter, storageAuths := storage.seen()
	if storageAfter == storageBefore {
		t.Fatal("the blob was not redirected to storage")
	}
	if len(storageAuths) != 0 {
		t.Errorf("storage received Authorization headers: %q", storageAuths)
	}
	if _, regAuths := reg.seen(); len(regAuths) == 0 {
		t.Error("the registry received no credentials")
	}
}

// TestRedirectStripsForwardedAuthorization: net/http copies an Authorization header set by the
// caller to a redirect target with the same host name on another port; the host policy drops it.
func TestRedirectStripsForwardedAuthorization(t *testing.T) {
	var (
		mu          sync.Mutex
		storageAuth []string
	)
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		storageAuth = append(storageAuth, r.Header.Get("Authorization"))
	}))
	defer storage.Close()
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, storage.URL+"/blob", http.StatusFound)
	}))
	defer reg.Close()
	s, err := Config{InsecureRegistries: []string{strings.TrimPrefix(reg.URL, "http://"), strings.TrimPrefix(storage.URL, "http://")}}.settings()
	if err != nil {
		t.Fatal(err)
	}
	client := http.Client{Transport: newTransport(s, nil)}
	req, err := http.NewRequest(http.MethodGet, reg.URL+"/v2/app/blobs/sha256:x", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", basic("alice", "a-secret"))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(storageAuth) != 1 || storageAuth[0] != "" {
		t.Fatalf("storage received Authorization %q, want none", storageAuth)
	}
}

func TestExplainNamesTheCredentialSource(t *testing.T) {
	withAuth := newPlainRegistry(t, withBasicAuth("alice", "right"))
	withKeychain := newPlainRegistry(t, withBasicAuth("bob", "right"))
	anonymous := newPlainRegistry(t, withBasicAuth("carol", "right"))
	c := newClient(t, Config{
		InsecureRegistries: []string{withAuth.host(), withKeychain.host(), anonymous.host()},
		Credentials:        []Credential{{Address: withAuth.host(), Username: "alice", Password: "wrong-registry-auth"}},
		Keychain:           staticKeychain{withKeychain.host(): {Username: "bob", Password: "wrong-keychain"}},
	})
	for reg, source := range map[*fakeRegistry]string{
		withAuth:     "with credentials from registry_auth for " + withAuth.host(),
		withKeychain: "with credentials from the Docker config",
		anonymous:    "with no credentials (anonymous: neither a registry_auth block nor the Docker config has an entry for " + anonymous.host() + ")",
	} {
		ref := reg.host() + "/private/app:v1"
		err := pushAndHead(t, c, ref)
		explained := c.Explain(err, ref)
		var e *Error
		if !errors.As(explained, &e) || e.Kind != Unauthorized {
			t.Fatalf("Explain(%v) = %v, want an Unauthorized *Error", err, explained)
		}
		msg := explained.Error()
		for _, want := range []string{"registry " + reg.host() + " refused access to repository \"private/app\" " + source, "401 Unauthorized"} {
			if !strings.Contains(msg, want) {
				t.Errorf("Explain: %s\nwant it to contain %q", msg, want)
			}
		}
		if strings.Contains(msg, "wrong-") {
			t.Errorf("Explain reveals a password: %s", msg)
		}
		if c.Explain(explained, ref) != explained {
			t.Error("Explain of an explained error changed it")
		}
	}
}

func TestExplainForbiddenAndNotFound(t *testing.T) {
	reg := newPlainRegistry(t, withIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.Contains(r.URL.Path, "/denied/") {
			return false
		}
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`)
		return true
	}))
	c := newClient(t, Config{InsecureRegistries: []string{reg.host()}})
	ctx := t.Context()
	for _, tc := range []struct {
		ref  string
		kind Kind
		want string
	}{
		{reg.host() + "/missing/app:v1", NotFound, reg.host() + "/missing/app:v1 was not found in registry " + reg.host()},
		{reg.host() + "/denied/app:v1", Forbidden, "registry " + reg.host() + " denied access to repository \"denied/app\" with no credentials (anonymous"},
	} {
		ref, err := c.ParseReference(tc.ref)
		if err != nil {
			t.Fatal(err)
		}
		_, err = remote.Get(ref, c.RemoteOptions(ctx)...)
		explained := c.Explain(err, tc.ref)
		if Classify(err) != tc.kind || !strings.Contains(explained.Error(), tc.want) {
			t.Errorf("Explain = %v (kind %d), want kind %d and %q", explained, Classify(err), tc.kind, tc.want)
		}
	}
	if err := c.Explain(errors.New("something else"), reg.host()+"/x:1"); err.Error() != "something else" {
		t.Errorf("Explain changed an unclassified error: %v", err)
	}
	if c.Explain(nil, "x") != nil {
		t.Error("Explain(nil) is not nil")
	}
}

// waitingKeychain is a credential helper that answers only when its context ends, as a helper
// stuck on a prompt or a network call would, and reports when it is asked.
type waitingKeychain struct{ asked chan struct{} }

func (k waitingKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	return k.ResolveContext(context.Background(), r)
}

func (k waitingKeychain) ResolveContext(ctx context.Context, _ authn.Resource) (authn.Authenticator, error) {
	k.asked <- struct{}{}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(time.Minute):
		return authn.Anonymous, nil
	}
}

// TestExplainLooksUpCredentialsWithTheRequestContext: explaining a 401 asks the Docker config
// which credentials were sent; that look-up runs with the context of the failed request, so a
// credential helper stops when Terraform is cancelled (Ctrl-C) instead of holding it up.
func TestExplainLooksUpCredentialsWithTheRequestContext(t *testing.T) {
	keychain := waitingKeychain{asked: make(chan struct{}, 1)}
	c := newClient(t, Config{Keychain: keychain})
	ctx, cancel := context.WithCancel(t.Context())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://registry.example.com/v2/app/manifests/v1", nil)
	if err != nil {
		t.Fatal(err)
	}
	unauthorized := &transport.Error{StatusCode: http.StatusUnauthorized, Request: req,
		Errors: []transport.Diagnostic{{Code: transport.UnauthorizedErrorCode, Message: "authentication required"}}}

	done := make(chan error, 1)
	go func() { done <- c.Explain(fmt.Errorf("reading: %w", unauthorized), "registry.example.com/app:v1") }()
	select {
	case <-keychain.asked:
	case <-time.After(10 * time.Second):
		t.Fatal("Explain did not ask the keychain which credentials were sent")
	}
	cancel() // Ctrl-C while the helper runs
	select {
	case explained := <-done:
		var e *Error
		if !errors.As(explained, &e) || e.Kind != Unauthorized || !strings.Contains(explained.Error(), "refused access") {
			t.Errorf("Explain = %v, want an explained 401", explained)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Explain still waits for the credential helper 10 s after the request's context was cancelled")
	}
}
