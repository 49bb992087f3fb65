package mirror

import (
	"errors"
	"path/filepath"
	"testing"
)

func TestOverlapOf(t *testing.T) {
	dir := t.TempDir()
	rel, err := filepath.Rel(mustGetwd(t), dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		source, target string
		mode           IndexMode
		want           Overlap
	}{
		{"r.example/demo/lin:1.0", "r.example/demo/lin:1.0", ModePreserve, SameReference},
		{"r.example/demo/lin:1.0", "r.example/demo/lin", ModePreserve, SameReference},
		{"r.example/demo/lin:1.0", "R.EXAMPLE/demo/lin", ModeFilter, SameReference},
		{"r.example/demo/lin", "r.example/demo/lin:latest", ModePreserve, SameReference},
		{"nginx:1.27", "docker.io/library/nginx", ModePreserve, SameReference},
		{"docker.io/library/nginx:1.27", "index.docker.io/library/nginx:1.27", ModePreserve, SameReference},
		{"r.example/demo/lin:1.0@" + digestA, "r.example/demo/lin@" + digestA, ModePreserve, SameReference},
		{"r.example/demo/lin@" + digestA, "r.example/demo/lin", ModePreserve, SameReference},
		{"r.example/demo/lin@" + digestA, "r.example/demo/lin", ModeFilter, SameRepository},
		{"r.example/demo/lin@" + digestA, "r.example/demo/lin@" + digestA, ModeFilter, SameReference},
		{"r.example/demo/lin@" + digestA, "r.example/demo/lin:mirror", ModePreserve, SameRepository},
		{"r.example/demo/lin:1.0", "r.example/demo/lin:1.1", ModePreserve, SameRepository},
		{"r.example/demo/lin:1.0", "r.example/mirror/lin", ModePreserve, Apart},
		{"r.example/demo/lin:1.0", "r.example:5000/demo/lin", ModePreserve, Apart},
		{"nginx:1.27", "docker.io/nginx/nginx:1.27", ModePreserve, Apart},
		{"oci-layout://" + dir + ":1.0", "oci-layout://" + rel, ModePreserve, SameReference},
		{"oci-layout://" + dir + ":1.0", "oci-layout://" + dir + ":other", ModePreserve, SameRepository},
		{"oci-layout://" + dir + ":1.0", "oci-layout://" + dir + "/other", ModePreserve, Apart},
		{"r.example/demo/lin:1.0", "oci-layout://" + dir, ModePreserve, Apart},
	} {
		got, err := OverlapOf(tc.source, tc.target, tc.mode)
		if err != nil || got != tc.want {
			t.Errorf("OverlapOf(%q, %q, %s) = %v, %v; want %v", tc.source, tc.target, tc.mode, got, err, tc.want)
		}
	}
	if _, err := OverlapOf("r.example/demo/lin:1.0", "https://r.example/x", ModePreserve); err == nil {
		t.Error("a target that does not parse was accepted")
	}
}

func TestCheckTargetIsNotSource(t *testing.T) {
	err := CheckTargetIsNotSource("nginx:1.27", "docker.io/library/nginx", ModePreserve)
	var same *TargetIsSourceError
	if !errors.As(err, &same) || same.Reference != "index.docker.io/library/nginx:1.27" {
		t.Fatalf("err = %v, want a TargetIsSourceError naming index.docker.io/library/nginx:1.27", err)
	}
	err = CheckTargetIsNotSource("r.example/app@"+digestA, "r.example/app", ModePreserve)
	if !errors.As(err, &same) || same.Reference != "r.example/app@"+digestA {
		t.Fatalf("err = %v, want a TargetIsSourceError naming r.example/app@%s", err, digestA)
	}
	if err := CheckTargetIsNotSource("nginx:1.27", "r.example/library/nginx", ModePreserve); err != nil {
		t.Fatalf("another registry: %v", err)
	}
}

func TestDestinationOf(t *testing.T) {
	for _, tc := range []struct{ source, a, b string }{
		{"r.example/cbd/lin:1.0", "r.example/cbd/lin", "r.example/cbd/lin:1.0"},
		{"r.example/app:2", "nginx", "docker.io/library/nginx:2"},
		{"r.example/app:2", "r.example/m/app@" + digestA, "r.example/m/app:2"},
	} {
		a, errA := DestinationOf(tc.source, tc.a)
		b, errB := DestinationOf(tc.source, tc.b)
		if errA != nil || errB != nil || a != b {
			t.Errorf("%q and %q (source %q): %v (%v) and %v (%v), want one destination", tc.a, tc.b, tc.source, a, errA, b, errB)
		}
	}
	a, _ := DestinationOf("r.example/app:2", "r.example/m/app")
	b, _ := DestinationOf("r.example/app:3", "r.example/m/app")
	if a == b {
		t.Errorf("the source's tag is not part of the destination: %v", a)
	}
}

func mustGetwd(t *testing.T) string {
	t.Helper()
	wd, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	return wd
}
