package mirror

import (
	"errors"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestValidateReference: the offline check that terraform validate runs gives the answers of the
// parser that plan and apply use, naming the attribute it was given, and needs no network (the
// hosts do not exist).
func TestValidateReference(t *testing.T) {
	for _, tc := range []struct{ attr, in string }{
		{"source", "registry.invalid/a/b:v1"},
		{"source", "nginx"},
		{"source", "registry.invalid/a/b@" + digestA},
		{"ref", "oci-layout://images:docker.io/library/nginx:1.27"},
		{"target", "registry.invalid/mirror/b"},
		{"target", "oci-layout://out"},
	} {
		if err := ValidateReference(tc.attr, tc.in); err != nil {
			t.Errorf("ValidateReference(%s, %q) = %v, want nil", tc.attr, tc.in, err)
		}
	}
	for _, tc := range []struct{ attr, in, want string }{
		{"source", "", "it is empty"},
		{"source", "registry.invalid/Upper/b:v1", "repository names are lower case: write registry.invalid/upper/b"},
		{"target", "registry.invalid/a/b:", "no tag after it"},
		{"target", "https://registry.invalid/a/b", "without a scheme"},
		{"ref", "registry.invalid/a/b@sha256:abc", "sha256:<64 hex digits>"},
		{"ref", "oci-layout://images", "name the image in the layout"}, // a layout has no "latest"
		{"source", "oci-layout://images:", "names no ref"},
		{"target", "oci-layout://", "path is empty"},
	} {
		err := ValidateReference(tc.attr, tc.in)
		var rerr *ReferenceError
		if !errors.As(err, &rerr) || rerr.Attribute != tc.attr || rerr.Value != tc.in || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ValidateReference(%s, %q) = %v, want a ReferenceError of %s with %q", tc.attr, tc.in, err, tc.attr, tc.want)
		}
	}
}

// TestLayoutDriveLetterPaths: on Windows (a release target) oci-layout://C:/… and
// oci-layout://C:\… are paths on drive C, and the ref follows the next colon; elsewhere such a
// path is refused, instead of becoming a directory named "C" with the ref "/transfer/images".
func TestLayoutDriveLetterPaths(t *testing.T) {
	for _, tc := range []struct{ attr, in, path, name, digest string }{
		{"source", `oci-layout://C:/transfer/images:app:1.0`, `C:/transfer/images`, "app:1.0", ""},
		{"source", `oci-layout://C:\transfer\images:docker.io/library/nginx:1.27`, `C:\transfer\images`, "docker.io/library/nginx:1.27", ""},
		{"source", `oci-layout://d:\images@` + digestA, `d:\images`, "", digestA},
		{"target", `oci-layout://C:/transfer/images`, `C:/transfer/images`, "", ""},
		{"target", `oci-layout://C:\transfer\images:v1`, `C:\transfer\images`, "v1", ""},
	} {
		path, name, digest, _ := splitLayoutRef(strings.TrimPrefix(tc.in, LayoutScheme))
		if path != tc.path || name != tc.name || digest != tc.digest {
			t.Errorf("%s splits into path %q, ref %q, digest %q; want %q, %q, %q", tc.in, path, name, digest, tc.path, tc.name, tc.digest)
		}
		ref, err := New().parseImageRef(tc.attr, tc.in, "")
		if runtime.GOOS == "windows" {
			if err != nil || ref.Layout == nil || ref.Layout.Path != tc.path || ref.Layout.Name != tc.name {
				t.Errorf("%s: %+v, %v; want the layout %q with ref %q", tc.in, ref.Layout, err, tc.path, tc.name)
			}
			continue
		}
		var rerr *ReferenceError
		if !errors.As(err, &rerr) || !strings.Contains(err.Error(), "Windows drive letter") || !strings.Contains(err.Error(), runtime.GOOS) {
			t.Errorf("%s on %s: %v, want a clear refusal of the drive letter", tc.in, runtime.GOOS, err)
		}
	}
	// A colon after a single letter and no slash is not a drive: "C" with the ref "images".
	if path, name, _, _ := splitLayoutRef("C:images"); path != "C" || name != "images" {
		t.Errorf("C:images splits into %q, %q", path, name)
	}
}

// TestLayoutsKeepNoTable: the engine keeps no table of the layouts it has parsed, so parsing
// ever new layout paths (a long-running provider, a data source read in a loop) does not grow
// it: the synthetic repository alone says where its layout is, even to another Engine.
func TestLayoutsKeepNoTable(t *testing.T) {
	ref, err := New().parseImageRef("source", "oci-layout://some/dir:v1", "latest")
	if err != nil {
		t.Fatal(err)
	}
	l := New().layoutOf(ref.Repo)
	if l == nil || l.display != "some/dir" || !strings.HasSuffix(filepath.ToSlash(l.dir), "/some/dir") {
		t.Fatalf("another engine finds %+v for %s", l, ref.Repo)
	}

	e := New()
	const parses = 20000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range parses {
		if _, err := e.parseImageRef("target", "oci-layout://layouts/"+strings.Repeat("x", i%50)+"/"+strconv.Itoa(i), ""); err != nil {
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
