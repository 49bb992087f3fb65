package mirror

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registry"
	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
	"github.com/zarf-dev/terraform-provider-zarf/internal/store/layout"
)

var (
	fuzzDigest = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	fuzzTag    = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)
)

// FuzzParseReference checks the parsing of source and target references, with the default
// registry client and with the provider's (which lists insecure registries): no panic; a refusal
// is a *ReferenceError naming the role and the value; an accepted reference has a sha256 digest
// or none, the tag written (or, for a source without digest, "latest"), and reads back the same
// from its String form.
func FuzzParseReference(f *testing.F) {
	seeds := []string{
		"nginx", "nginx:1.27", "nginx:", "nginx:@" + digestA, "library/nginx:latest", "docker.io/library/nginx",
		"index.docker.io/library/nginx:1.27@" + digestA, "nginx@" + digestA, "nginx@", "@" + digestA,
		"127.0.0.1:5000/a/b:v1@" + digestA, "127.0.0.1:5000", "127.0.0.1:5000/a", "localhost:5000/a/b:c",
		"localhost/a", "[::1]:5000/a/b", "registry.internal/team/app:v1.2.3-rc.1",
		"https://registry.invalid/a/b", "oci-layout:///tmp/layout:ref", " nginx", "nginx ", "nginx\n",
		"UPPER/case", "a/B", "a//b", "a/b/", "/a", "a:b:c", "a:b/c:d", "a/b:c@d", "a@sha256:" + strings.Repeat("A", 64),
		"a@sha512:" + strings.Repeat("a", 128), "a@sha256:" + strings.Repeat("a", 63), "a:" + strings.Repeat("t", 129),
		"a:" + strings.Repeat("t", 128), "a:-tag", "a:.tag", "a:_tag", "a@sha256:" + digestA[7:] + "@" + digestB,
		"host:port/a", "host:99999/a", "ho_st/a", "xn--bcher-kva.example/a", "a.b.c.d.e/f/g/h/i/j:k",
		"\x00", "a\x00b", "é/a", "a/é",
		"oci-layout://", "oci-layout://dir", "oci-layout://dir:", "oci-layout://dir@", "oci-layout://dir@" + digestA,
		"oci-layout://./a b/c:docker.io/library/nginx:1.27", "oci-layout://d:r@" + digestA, "oci-layout://d:r\t",
	}
	for _, s := range seeds {
		f.Add(s, true)
		f.Add(s, false)
	}
	client, err := registry.New(registry.Config{InsecureRegistries: []string{"127.0.0.1:5000", "localhost:5000"}})
	if err != nil {
		f.Fatal(err)
	}
	engines := []*Engine{New(), New(WithScheme(client))}
	f.Fuzz(func(t *testing.T, s string, source bool) {
		role := store.RoleTarget
		if source {
			role = store.RoleSource
		}
		for _, e := range engines {
			loc, err := e.Parse(s, role)
			if err != nil {
				var rerr *ReferenceError
				if !errors.As(err, &rerr) || rerr.Role != role || rerr.Value != s {
					t.Fatalf("Parse(%q) = %v, want a *ReferenceError about it", s, err)
				}
				continue
			}
			if loc.Digest != "" && !fuzzDigest.MatchString(loc.Digest) {
				t.Fatalf("Parse(%q): digest %q", s, loc.Digest)
			}
			if strings.HasPrefix(s, layout.Prefix) {
				checkFuzzedLayoutRef(t, e, s, role, loc)
				continue
			}
			if strings.Contains(s, "://") || strings.TrimSpace(s) != s {
				t.Fatalf("Parse(%q) accepted it: %s", s, loc)
			}
			if loc.Name != "" && !fuzzTag.MatchString(loc.Name) {
				t.Fatalf("Parse(%q): tag %q", s, loc.Name)
			}
			// The tag written, else "latest" for a source without digest.
			base, _, hasDigest := strings.Cut(s, "@")
			wantTag := ""
			if source && !hasDigest {
				wantTag = "latest"
			}
			if slash, colon := strings.LastIndex(base, "/"), strings.LastIndex(base, ":"); colon > slash {
				wantTag = base[colon+1:]
			}
			if loc.Name != wantTag {
				t.Fatalf("Parse(%q): tag %q, want %q", s, loc.Name, wantTag)
			}
			// The String form reads back the same, also as a go-containerregistry reference.
			again, err := e.Parse(loc.String(), store.RoleTarget)
			if err != nil {
				t.Fatalf("Parse(%q) = %s, which does not parse again: %v", s, loc, err)
			}
			if again.String() != loc.String() || again.Repository != loc.Repository {
				t.Fatalf("Parse(%q) = %s, which parses again as %s", s, loc, again)
			}
			if _, err := name.ParseReference(loc.String()); (loc.Name != "" || loc.Digest != "") && err != nil {
				t.Fatalf("Parse(%q) = %s, which go-containerregistry does not parse: %v", s, loc, err)
			}
			checkFuzzedLocate(t, e, s, loc)
		}
	})
}

// checkFuzzedLayoutRef checks an accepted layout reference: a path without ':' and '@', a ref
// or a digest (a source), and a String form that reads back.
func checkFuzzedLayoutRef(t *testing.T, e *Engine, s string, role store.Role, loc store.Location) {
	path := strings.TrimPrefix(loc.Repository, layout.Prefix)
	if path == "" || strings.ContainsAny(path, ":@") || !strings.HasPrefix(s, loc.Repository) {
		t.Fatalf("Parse(%q): path %q", s, path)
	}
	if role == store.RoleSource && loc.Name == "" && loc.Digest == "" {
		t.Fatalf("Parse(%q): a source names neither ref nor digest", s)
	}
	again, err := e.Parse(loc.String(), store.RoleTarget)
	if err != nil || again.String() != loc.String() || again.Repository != loc.Repository {
		t.Fatalf("Parse(%q) = %s, which parses again as %s (%v)", s, loc, again, err)
	}
	checkFuzzedLocate(t, e, s, loc)
}

// checkFuzzedLocate checks that a target reference never makes Locate panic, and names the same
// repository.
func checkFuzzedLocate(t *testing.T, e *Engine, s string, loc store.Location) {
	digest := loc.Digest
	if digest == "" {
		digest = digestA
	}
	if repo, _, err := e.Locate(Spec{Source: "registry.invalid/a/b:v1", Target: s}, digest); err == nil && repo != loc.Repository {
		t.Fatalf("Locate(%q) = %s, want %s", s, repo, loc.Repository)
	}
}
