package mirror

import (
	"errors"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// TestValidateReference: the offline check that terraform validate runs gives the answers of the
// parser that plan and apply use, for the role it was given, and needs no network (the hosts do
// not exist).
func TestValidateReference(t *testing.T) {
	for _, tc := range []struct {
		role store.Role
		in   string
	}{
		{store.RoleSource, "registry.invalid/a/b:v1"},
		{store.RoleSource, "nginx"},
		{store.RoleSource, "registry.invalid/a/b@" + digestA},
		{store.RoleSource, "oci-layout://images:docker.io/library/nginx:1.27"},
		{store.RoleTarget, "registry.invalid/mirror/b"},
		{store.RoleTarget, "oci-layout://out"},
	} {
		if err := ValidateReference(tc.role, tc.in); err != nil {
			t.Errorf("ValidateReference(%s, %q) = %v, want nil", roleName(tc.role), tc.in, err)
		}
	}
	refusals := []struct {
		role     store.Role
		in, want string
	}{
		{store.RoleSource, "", "it is empty"},
		{store.RoleSource, "registry.invalid/Upper/b:v1", "repository names are lower case: write registry.invalid/upper/b"},
		{store.RoleTarget, "registry.invalid/a/b:", "no tag after it"},
		{store.RoleTarget, "https://registry.invalid/a/b", "without a scheme"},
		{store.RoleSource, "registry.invalid/a/b@sha256:abc", "sha256:<64 hex digits>"},
		{store.RoleSource, "oci-layout://images", "name the image in the layout"}, // a layout has no "latest"
		{store.RoleSource, "oci-layout://images:", "names no ref"},
		{store.RoleTarget, "oci-layout://", "path is empty"},
	}
	if runtime.GOOS != "windows" {
		// A drive letter would otherwise become a directory named "C" with the ref
		// "/transfer/images" (see the layout package's TestParseDriveLetterPaths).
		refusals = append(refusals, struct {
			role     store.Role
			in, want string
		}{store.RoleTarget, "oci-layout://C:/transfer/images", "Windows drive letter"})
	}
	for _, tc := range refusals {
		err := ValidateReference(tc.role, tc.in)
		var rerr *ReferenceError
		if !errors.As(err, &rerr) || rerr.Role != tc.role || rerr.Value != tc.in || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ValidateReference(%s, %q) = %v, want a ReferenceError of the %s with %q",
				roleName(tc.role), tc.in, err, roleName(tc.role), tc.want)
		}
	}
}

// TestParseKeepsNoTable: parsing ever new layout paths (a long-running provider, a data source
// read in a loop) does not grow the engine: a parsed reference carries its store, and the engine
// keeps nothing per reference.
func TestParseKeepsNoTable(t *testing.T) {
	e := New()
	const parses = 20000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range parses {
		if _, err := e.Parse("oci-layout://layouts/"+strings.Repeat("x", i%50)+"/"+strconv.Itoa(i), store.RoleTarget); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(e)
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 512<<10 {
		t.Errorf("parsing %d layout paths grew the heap by %d bytes; the engine keeps them", parses, grown)
	}
}
