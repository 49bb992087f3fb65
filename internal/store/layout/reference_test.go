package layout

import (
	"runtime"
	"strings"
	"testing"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// TestParseDriveLetterPaths: on Windows (a release target) oci-layout://C:/… and
// oci-layout://C:\… are paths on drive C, and the ref follows the next colon; elsewhere such a
// path is refused, instead of becoming a directory named "C" with the ref "/transfer/images".
func TestParseDriveLetterPaths(t *testing.T) {
	digest := "sha256:" + strings.Repeat("a", 64)
	for _, tc := range []struct {
		role               store.Role
		in, path, name, dg string
	}{
		{store.RoleSource, `oci-layout://C:/transfer/images:app:1.0`, `C:/transfer/images`, "app:1.0", ""},
		{store.RoleSource, `oci-layout://C:\transfer\images:docker.io/library/nginx:1.27`, `C:\transfer\images`, "docker.io/library/nginx:1.27", ""},
		{store.RoleSource, `oci-layout://d:\images@` + digest, `d:\images`, "", digest},
		{store.RoleTarget, `oci-layout://C:/transfer/images`, `C:/transfer/images`, "", ""},
		{store.RoleTarget, `oci-layout://C:\transfer\images:v1`, `C:\transfer\images`, "v1", ""},
	} {
		path, name, dg, err := parse(tc.in, "windows")
		if err != nil || path != tc.path || name != tc.name || dg != tc.dg {
			t.Errorf("on windows, %s splits into path %q, ref %q, digest %q (%v); want %q, %q, %q", tc.in, path, name, dg, err, tc.path, tc.name, tc.dg)
		}
		for _, goos := range []string{"linux", "darwin"} {
			if _, _, _, err := parse(tc.in, goos); err == nil || !strings.Contains(err.Error(), "Windows drive letter") || !strings.Contains(err.Error(), goos) {
				t.Errorf("%s on %s: %v, want a clear refusal of the drive letter", tc.in, goos, err)
			}
		}
		loc, err := Scheme{}.Open(tc.in, tc.role)
		if runtime.GOOS == "windows" {
			if err != nil || loc.Repository != Prefix+tc.path || loc.Name != tc.name {
				t.Errorf("Open(%s) = %+v, %v; want the layout %q with ref %q", tc.in, loc, err, tc.path, tc.name)
			}
		} else if err == nil || !strings.Contains(err.Error(), "Windows drive letter") {
			t.Errorf("Open(%s) on %s: %v, want a clear refusal of the drive letter", tc.in, runtime.GOOS, err)
		}
	}
	// A colon after a single letter and no separator is not a drive: "C" with the ref "images".
	for _, goos := range []string{"windows", "linux"} {
		if path, name, _, err := parse(Prefix+"C:images", goos); err != nil || path != "C" || name != "images" {
			t.Errorf("on %s, C:images splits into %q, %q (%v)", goos, path, name, err)
		}
	}
}
