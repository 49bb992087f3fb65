package mirror

import (
	"errors"
	"strings"
	"testing"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

const (
	digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func TestParseRegistryReference(t *testing.T) {
	e := New()
	cases := []struct {
		in                string
		role              store.Role
		repo, tag, digest string
	}{
		{"nginx", store.RoleSource, "index.docker.io/library/nginx", "latest", ""},
		{"nginx:1.27", store.RoleSource, "index.docker.io/library/nginx", "1.27", ""},
		{"docker.io/library/nginx", store.RoleSource, "index.docker.io/library/nginx", "latest", ""},
		{"bitnami/redis:7", store.RoleSource, "index.docker.io/bitnami/redis", "7", ""},
		{"nginx", store.RoleTarget, "index.docker.io/library/nginx", "", ""},
		{"registry.internal/library/nginx", store.RoleTarget, "registry.internal/library/nginx", "", ""},
		{"127.0.0.1:5000/a/b:v1", store.RoleTarget, "127.0.0.1:5000/a/b", "v1", ""},
		{"127.0.0.1:5000/a/b", store.RoleSource, "127.0.0.1:5000/a/b", "latest", ""},
		// a digest pins; no default tag is added, an explicit one is kept
		{"nginx@" + digestA, store.RoleSource, "index.docker.io/library/nginx", "", digestA},
		{"nginx:1.27@" + digestA, store.RoleSource, "index.docker.io/library/nginx", "1.27", digestA},
		{"127.0.0.1:5000/a/b:v1@" + digestA, store.RoleTarget, "127.0.0.1:5000/a/b", "v1", digestA},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			loc, err := e.Parse(tc.in, tc.role)
			if err != nil {
				t.Fatal(err)
			}
			if loc.Repository != tc.repo || loc.Name != tc.tag || loc.Digest != tc.digest {
				t.Fatalf("Parse(%q) = %q %q %q, want %q %q %q", tc.in, loc.Repository, loc.Name, loc.Digest, tc.repo, tc.tag, tc.digest)
			}
			if loc.Traits != (store.Traits{}) {
				t.Fatalf("a registry has traits %+v", loc.Traits)
			}
		})
	}
	if loc, _ := e.Parse("nginx:1.27", store.RoleSource); loc.BaseName != "docker.io/library/nginx:1.27" {
		t.Fatalf("BaseName = %q, want Docker Hub written as docker.io", loc.BaseName)
	}
}

// TestParseOtherSchemes: a reference with a scheme goes to the scheme of its prefix, and its
// errors are ReferenceErrors of the role; an unknown scheme names the known ones.
func TestParseOtherSchemes(t *testing.T) {
	e := New()
	loc, err := e.Parse("oci-layout://./pkg/images:1.27", store.RoleSource)
	if err != nil || loc.Repository != "oci-layout://./pkg/images" || loc.Name != "1.27" || !loc.Traits.RefOmitsName {
		t.Fatalf("a layout reference: %+v, %v", loc, err)
	}
	for _, tc := range []struct {
		role     store.Role
		in, want string
	}{
		{store.RoleSource, "oci-layout://dir", "name the image in the layout"},
		{store.RoleTarget, "oci-layout://out:my ref", "white space"},
		{store.RoleTarget, "oci://dir:x", "oci-layout://<path>:<ref>"},
	} {
		_, err := e.Parse(tc.in, tc.role)
		var rerr *ReferenceError
		if !errors.As(err, &rerr) || rerr.Role != tc.role || rerr.Value != tc.in || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want a ReferenceError with %q", tc.in, err, tc.want)
		}
	}
}

// TestPlanReferenceErrors checks that bad references fail before any network access (the hosts
// do not exist).
func TestPlanReferenceErrors(t *testing.T) {
	e := New()
	cases := []struct {
		name, source, reason string
	}{
		{"empty", "", "empty"},
		{"scheme", "https://registry.invalid/a/b:v1", "without a scheme"},
		{"oci scheme", "docker://registry.invalid/a/b", "without a scheme"},
		{"white space", " registry.invalid/a/b", "white space"},
		{"short digest", "registry.invalid/a/b@sha256:abc", "sha256:<64 hex digits>"},
		{"upper-case digest", "registry.invalid/a/b@sha256:" + strings.Repeat("A", 64), "sha256:<64 hex digits>"},
		{"no algorithm", "registry.invalid/a/b@" + strings.Repeat("a", 64), "sha256:<64 hex digits>"},
		{"sha512 digest", "registry.invalid/a/b@sha512:" + strings.Repeat("a", 128), "sha256"},
		{"md5 digest", "registry.invalid/a/b@md5:" + strings.Repeat("a", 32), "sha256"},
		{"bad repository", "registry.invalid/A/B:v1", ""},
		{"bad tag", "registry.invalid/a/b:bad!tag", "tag"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Plan(t.Context(), Spec{Source: tc.source})
			var rerr *ReferenceError
			if !errors.As(err, &rerr) {
				t.Fatalf("Plan(%q) = %v, want a *ReferenceError", tc.source, err)
			}
			if rerr.Role != store.RoleSource || rerr.Value != tc.source {
				t.Fatalf("error names %v %q", rerr.Role, rerr.Value)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("error %q does not contain %q", err, tc.reason)
			}
		})
	}
}

func TestPlanSpecErrors(t *testing.T) {
	e := New()
	if _, err := e.Plan(t.Context(), Spec{Source: "registry.invalid/a/b", IndexMode: "sparse"}); err == nil || !strings.Contains(err.Error(), "index mode") {
		t.Fatalf("bad index mode: %v", err)
	}
	_, err := e.Plan(t.Context(), Spec{Source: "registry.invalid/a/b", Platforms: []string{"linux/amd64", "linux", "/arm64"}})
	if err == nil || !strings.Contains(err.Error(), `"linux"`) || !strings.Contains(err.Error(), `"/arm64"`) {
		t.Fatalf("malformed platforms: %v", err)
	}
}

func TestResolveSourceDigestNeedsNoRequest(t *testing.T) {
	got, err := New().ResolveSource(t.Context(), "registry.invalid/a/b:v1@"+digestA)
	if err != nil || got != digestA {
		t.Fatalf("ResolveSource = %q, %v", got, err)
	}
	if _, err := New().ResolveSource(t.Context(), ""); err == nil {
		t.Fatal("empty source resolves")
	}
}

// TestReadOnlyTarget: a scheme whose stores are only Readers cannot be a target.
func TestReadOnlyTarget(t *testing.T) {
	e := New(WithScheme(readOnlyScheme{}))
	if _, err := e.Parse("ro://x", store.RoleSource); err != nil {
		t.Fatal(err)
	}
	_, err := e.Parse("ro://x", store.RoleTarget)
	var rerr *ReferenceError
	if !errors.As(err, &rerr) || !strings.Contains(err.Error(), "can be read from, not written to") {
		t.Fatalf("a read-only target: %v", err)
	}
}

// readOnlyScheme opens a store that can only be read, as a Zarf package archive.
type readOnlyScheme struct{}

func (readOnlyScheme) Prefix() string { return "ro://" }
func (readOnlyScheme) Syntax() string { return "ro://<name>" }
func (readOnlyScheme) Open(ref string, _ store.Role) (store.Location, error) {
	return store.Location{Store: readOnly{}, Repository: ref}, nil
}

type readOnly struct{ store.Reader }
