package registry

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

func TestCheckPush(t *testing.T) {
	ca := newCA(t)
	plain := newPlainRegistry(t)
	tlsReg := newTLSRegistry(t, ca)
	basicAuth := newPlainRegistry(t, withBasicAuth("alice", "right"))
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	unreachable := closed.Addr().String()
	closed.Close()

	for _, tc := range []struct {
		name string
		cfg  Config
		repo string
		kind Kind // Other: no error
		want string
	}{
		{"plain HTTP, listed", Config{InsecureRegistries: []string{plain.host()}}, plain.host(), Other, ""},
		{"plain HTTP, not listed", Config{}, plain.host(), PlainHTTP, "insecure_registries"},
		{"TLS, CA unknown", Config{}, tlsReg.host(), TLS, "ca_pem"},
		{"TLS, CA given", Config{CAPEM: ca.PEM()}, tlsReg.host(), Other, ""},
		{"unreachable", Config{InsecureRegistries: []string{unreachable}}, unreachable, Unreachable, "is unreachable"},
		{"basic authentication, right password", Config{InsecureRegistries: []string{basicAuth.host()},
			Credentials: []Credential{{Address: basicAuth.host(), Username: "alice", Password: "right"}}}, basicAuth.host(), Other, ""},
		{"basic authentication, wrong password", Config{InsecureRegistries: []string{basicAuth.host()},
			Credentials: []Credential{{Address: basicAuth.host(), Username: "alice", Password: "wrong"}}}, basicAuth.host(), Unauthorized,
			"refused access to repository \"mirror/app\" with credentials from registry_auth for " + basicAuth.host()},
		{"basic authentication, no credentials", Config{InsecureRegistries: []string{basicAuth.host()}}, basicAuth.host(), Unauthorized, "anonymous"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, tc.cfg)
			err := c.CheckPush(t.Context(), mustRepository(t, tc.repo+"/mirror/app"))
			if tc.kind == Other {
				if err != nil {
					t.Fatalf("CheckPush: %v", err)
				}
				return
			}
			t.Logf("CheckPush: %v", err)
			var e *Error
			if !errors.As(err, &e) || e.Kind != tc.kind || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CheckPush: %v, want an explained error of kind %d that says %q", err, tc.kind, tc.want)
			}
			if strings.Contains(err.Error(), "wrong") {
				t.Errorf("the error reveals the password: %v", err)
			}
		})
	}
}

// TestCheckPushAsksForPushScope: against a registry with token authentication, the check
// obtains a token for a push, and a token server that refuses it fails the check.
func TestCheckPushAsksForPushScope(t *testing.T) {
	var (
		mu     sync.Mutex
		scopes []string
	)
	var reg *fakeRegistry
	reg = newPlainRegistry(t, withIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case r.URL.Path == "/token":
			mu.Lock()
			scopes = append(scopes, r.URL.Query()["scope"]...)
			mu.Unlock()
			if u, p, _ := r.BasicAuth(); u != "bob" || p != "right" {
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"push denied"}]}`)
				return true
			}
			_, _ = io.WriteString(w, `{"token":"granted"}`)
			return true
		case r.Header.Get("Authorization") != "Bearer granted":
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="fake"`, reg.host()))
			w.WriteHeader(http.StatusUnauthorized)
			return true
		}
		return false
	}))
	for password, ok := range map[string]bool{"right": true, "wrong": false} {
		c := newClient(t, Config{InsecureRegistries: []string{reg.host()}, Keychain: staticKeychain{reg.host(): authn.AuthConfig{Username: "bob", Password: password}}})
		err := c.CheckPush(t.Context(), mustRepository(t, reg.host()+"/mirror/app"))
		if ok != (err == nil) {
			t.Errorf("password %s: CheckPush = %v", password, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, s := range scopes {
		if s != "repository:mirror/app:push,pull" {
			t.Errorf("token requested for scope %q, want a push to mirror/app", s)
		}
	}
	if len(scopes) == 0 {
		t.Error("no token was requested")
	}
}

func mustRepository(t *testing.T, s string) name.Repository {
	t.Helper()
	r, err := name.NewRepository(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
