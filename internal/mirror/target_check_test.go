package mirror

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registry"
)

// TestCheckTarget_oncePerRepository: a plan of many mirrors into one repository checks the
// target once; another repository is checked on its own.
func TestCheckTarget_oncePerRepository(t *testing.T) {
	dst := newTestRegistry(t)
	c, err := registry.New(registry.Config{InsecureRegistries: []string{dst.host}, Keychain: authn.NewMultiKeychain()})
	if err != nil {
		t.Fatal(err)
	}
	e := New(WithClient(c))
	pings := func() int {
		n := 0
		for _, r := range dst.requests() {
			if r.Path == "/v2/" {
				n++
			}
		}
		return n
	}
	check := func(repository string, mirrors int) {
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
	}
	check("mirror/app", 50)
	perRepository := pings()
	if perRepository == 0 || perRepository > 2 {
		t.Fatalf("50 mirrors into one repository sent %d requests to /v2/, want 1 or 2 (a ping and an authenticated request)", perRepository)
	}
	check("mirror/app", 5)
	check("mirror/other", 5)
	if got := pings(); got != perRepository {
		t.Fatalf("another repository sent %d requests to /v2/, want %d", got, perRepository)
	}
}

func TestCheckTarget_layout(t *testing.T) {
	e := testEngine()
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := e.CheckTarget(t.Context(), LayoutScheme+filepath.Join(file, "images")+":v1")
	var unusable *TargetUnusableError
	if !errors.As(err, &unusable) || !strings.Contains(err.Error(), "is not a directory") {
		t.Fatalf("a layout below a file: %v, want a TargetUnusableError", err)
	}
	if err := e.CheckTarget(t.Context(), LayoutScheme+filepath.Join(dir, "new", "images")); err != nil {
		t.Fatalf("a layout that can be created: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("the check left %d entries in %s, want only the file", len(entries), dir)
	}
}
