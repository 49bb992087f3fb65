package registry

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"
)

// apiRepository captures the repository of a registry API path.
var apiRepository = regexp.MustCompile(`^/v2/(.+?)/(manifests|blobs|tags|referrers)/`)

// tokenServer makes a fake registry ask for bearer tokens as Docker Hub does: /v2/ answers 401
// with a Bearer challenge whose realm is the registry's own /token, which hands out one token
// per scope; every other request needs the token of its repository's scope.
type tokenServer struct {
	reg *fakeRegistry

	mu     sync.Mutex
	pings  int
	tokens map[string]int // scope → token requests
}

func newTokenServer(t *testing.T) *tokenServer {
	ts := &tokenServer{tokens: map[string]int{}}
	ts.reg = newPlainRegistry(t, withIntercept(ts.intercept))
	return ts
}

func (ts *tokenServer) intercept(w http.ResponseWriter, r *http.Request) bool {
	challenge := func(scope string) {
		header := fmt.Sprintf(`Bearer realm="%s/token",service="fake"`, ts.reg.URL)
		if scope != "" {
			header += fmt.Sprintf(`,scope=%q`, scope)
		}
		w.Header().Set("WWW-Authenticate", header)
		w.WriteHeader(http.StatusUnauthorized)
	}
	switch r.URL.Path {
	case "/v2/":
		ts.mu.Lock()
		ts.pings++
		ts.mu.Unlock()
		challenge("")
		return true
	case "/token":
		if u, p, ok := r.BasicAuth(); !ok || u != "ci" || p != "secret" {
			w.WriteHeader(http.StatusUnauthorized)
			return true
		}
		scope := r.URL.Query().Get("scope")
		ts.mu.Lock()
		ts.tokens[scope]++
		ts.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"token": "token for " + scope, "expires_in": 300})
		return true
	}
	repo := apiRepository.FindStringSubmatch(r.URL.Path)[1]
	if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer token for repository:"+repo+":") {
		challenge("repository:" + repo + ":pull")
		return true
	}
	return false // the token fits: the registry answers
}

func (ts *tokenServer) counts() (pings int, tokens map[string]int) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.pings, maps.Clone(ts.tokens)
}

// TestPingAndTokenOncePerRegistryAndScope: however many repositories and requests, a Client
// checks a registry (GET /v2/) once and asks for a token once per scope, also when the first
// requests come at once.
func TestPingAndTokenOncePerRegistryAndScope(t *testing.T) {
	ts := newTokenServer(t)
	host := ts.reg.host()
	c := newClient(t, Config{
		InsecureRegistries: []string{host},
		Keychain:           staticKeychain{host: authn.AuthConfig{Username: "ci", Password: "secret"}},
	})
	repos := []string{"team/a", "team/b", "team/c"}
	for _, repo := range repos[:2] {
		if err := pushAndHead(t, c, host+"/"+repo+":v1"); err != nil {
			t.Fatalf("pushing to %s: %v", repo, err)
		}
	}
	var g errgroup.Group
	for i := range 30 {
		g.Go(func() error {
			ref, err := c.ParseReference(host + "/" + repos[i%len(repos)] + ":v1")
			if err != nil {
				return err
			}
			_, err = remote.Head(ref, c.RemoteOptions(t.Context())...)
			if i%len(repos) == 2 { // never pushed
				if Classify(err) != NotFound {
					return fmt.Errorf("HEAD %s: %v, want not found", ref, err)
				}
				return nil
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	pings, tokens := ts.counts()
	if pings != 1 {
		t.Errorf("the registry was checked (GET /v2/) %d times, want once", pings)
	}
	want := map[string]int{
		"repository:team/a:push,pull": 1, "repository:team/b:push,pull": 1,
		"repository:team/a:pull": 1, "repository:team/b:pull": 1, "repository:team/c:pull": 1,
	}
	if fmt.Sprint(tokens) != fmt.Sprint(want) {
		t.Errorf("token requests per scope = %v, want %v", tokens, want)
	}
}

// TestConcurrentFirstPingsAskOnce: requests to several repositories that start together wait
// for one check of the registry.
func TestConcurrentFirstPingsAskOnce(t *testing.T) {
	var mu sync.Mutex
	pings := 0
	reg := newPlainRegistry(t, withIntercept(func(_ http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/v2/" {
			mu.Lock()
			pings++
			mu.Unlock()
			time.Sleep(100 * time.Millisecond) // the others arrive meanwhile
		}
		return false
	}))
	c := newClient(t, Config{InsecureRegistries: []string{reg.host()}})
	var g errgroup.Group
	for i := range 10 {
		g.Go(func() error {
			ref, err := c.ParseReference(fmt.Sprintf("%s/repo-%d:v1", reg.host(), i))
			if err != nil {
				return err
			}
			if _, err = remote.Head(ref, c.RemoteOptions(t.Context())...); Classify(err) != NotFound {
				return fmt.Errorf("HEAD %s: %v, want not found", ref, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if pings != 1 {
		t.Errorf("the registry was checked %d times, want once", pings)
	}
}

// TestFailedPingIsAskedAgain: an answer that may change (503) is not kept.
func TestFailedPingIsAskedAgain(t *testing.T) {
	var mu sync.Mutex
	pings := 0
	reg := newPlainRegistry(t, withIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/v2/" {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		pings++
		if pings == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return false
	}))
	c := newClient(t, Config{InsecureRegistries: []string{reg.host()}, MaxRetries: intPtr(0)})
	head := func(repo string) error {
		ref, err := c.ParseReference(reg.host() + "/" + repo + ":v1")
		if err != nil {
			t.Fatal(err)
		}
		_, err = remote.Head(ref, c.RemoteOptions(t.Context())...)
		return err
	}
	if err := head("a"); Classify(err) != Unavailable {
		t.Fatalf("first HEAD: %v, want the registry unavailable", err)
	}
	for _, repo := range []string{"a", "b", "c"} {
		if err := head(repo); Classify(err) != NotFound {
			t.Fatalf("HEAD %s: %v, want not found", repo, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if pings != 2 {
		t.Errorf("the registry was checked %d times, want 2 (the 503, then one kept answer)", pings)
	}
}

// TestPlainHTTPHostReusesOneConnection: a host listed in insecure_registries that serves plain
// HTTP costs one failed TLS attempt and one connection, kept alive, however many repositories
// are read, one after the other.
func TestPlainHTTPHostReusesOneConnection(t *testing.T) {
	reg := newPlainRegistry(t)
	c := newClient(t, Config{InsecureRegistries: []string{reg.host()}})
	for i := range 20 {
		ref, err := c.ParseReference(fmt.Sprintf("%s/repo-%d:v1", reg.host(), i))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := remote.Head(ref, c.RemoteOptions(t.Context())...); Classify(err) != NotFound {
			t.Fatalf("HEAD %s: %v, want not found", ref, err)
		}
	}
	requests, _ := reg.seen()
	if requests != 21 {
		t.Errorf("the registry received %d requests, want 21 (one GET /v2/ and 20 HEADs)", requests)
	}
	if conns := reg.connections(); conns != 2 {
		t.Errorf("the registry accepted %d connections, want 2 (the TLS attempt of the first check, then one kept alive)", conns)
	}
}
