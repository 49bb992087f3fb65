package mirror

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registry"
	"github.com/zarf-dev/terraform-provider-zarf/internal/store/layout"
)

// TestCheckTarget_oncePerRepository: a plan of many mirrors into one repository checks the
// target once; another repository is checked on its own. The registry asks for basic
// authentication, so that each check sends one authenticated GET /v2/ (the registry check
// without credentials is answered once per registry and Client, see the registry package's
// pingCache).
func TestCheckTarget_oncePerRepository(t *testing.T) {
	dst := newTestRegistry(t)
	var mu sync.Mutex
	checks := 0
	dst.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if user, password, ok := r.BasicAuth(); !ok || user != "alice" || password != "right" {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return true
		}
		if r.URL.Path == "/v2/" {
			mu.Lock()
			checks++
			mu.Unlock()
		}
		return false
	})
	c, err := registry.New(registry.Config{
		InsecureRegistries: []string{dst.host},
		Credentials:        []registry.Credential{{Address: dst.host, Username: "alice", Password: "right"}},
		Keychain:           authn.NewMultiKeychain(),
	})
	if err != nil {
		t.Fatal(err)
	}
	e := New(WithScheme(c))
	check := func(repository string, mirrors, want int) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make([]error, mirrors)
		for i := range mirrors {
			wg.Go(func() { errs[i] = e.CheckTarget(t.Context(), fmt.Sprintf("%s/%s:v%d", dst.host, repository, i)) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if checks != want {
			t.Fatalf("after %d mirrors into %s, %d checks of the target in all, want %d", mirrors, repository, checks, want)
		}
	}
	check("mirror/app", 50, 1)
	check("mirror/app", 5, 1)
	check("mirror/other", 5, 2)
}

func TestCheckTarget_layout(t *testing.T) {
	e := New()
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := e.CheckTarget(t.Context(), layout.Prefix+filepath.Join(file, "images")+":v1")
	var unusable *TargetUnusableError
	if !errors.As(err, &unusable) || !strings.Contains(err.Error(), "is not a directory") {
		t.Fatalf("a layout below a file: %v, want a TargetUnusableError", err)
	}
	if err := e.CheckTarget(t.Context(), layout.Prefix+filepath.Join(dir, "new", "images")); err != nil {
		t.Fatalf("a layout that can be created: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("the check left %d entries in %s, want only the file", len(entries), dir)
	}
}
