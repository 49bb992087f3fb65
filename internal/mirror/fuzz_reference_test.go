package mirror

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registry"
)

var (
	fuzzDigest = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	fuzzTag    = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)
)

// FuzzParseImageRef checks the parsing of source and target references, with the default
// client and with the provider's (which lists insecure registries): no panic; a refusal is a
// *ReferenceError naming the attribute and the value; an accepted reference has a sha256 digest
// or none, the tag written (or the default), and reads back the same from its String form.
func FuzzParseImageRef(f *testing.F) {
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
		f.Add(s, "latest")
		f.Add(s, "")
	}
	client, err := registry.New(registry.Config{InsecureRegistries: []string{"127.0.0.1:5000", "localhost:5000"}})
	if err != nil {
		f.Fatal(err)
	}
	engines := []*Engine{New(), New(WithClient(client))}
	f.Fuzz(func(t *testing.T, s, defaultTag string) {
		if !fuzzTag.MatchString(defaultTag) {
			defaultTag = ""
		}
		for _, e := range engines {
			ref, err := e.parseImageRef("source", s, defaultTag)
			if err != nil {
				var rerr *ReferenceError
				if !errors.As(err, &rerr) || rerr.Attribute != "source" || rerr.Value != s {
					t.Fatalf("parseImageRef(%q) = %v, want a *ReferenceError about it", s, err)
				}
				continue
			}
			if IsLayout(s) {
				checkFuzzedLayoutRef(t, e, s, ref)
				continue
			}
			if strings.Contains(s, "://") || strings.TrimSpace(s) != s {
				t.Fatalf("parseImageRef(%q) accepted it: %s", s, ref)
			}
			if ref.Digest != "" && !fuzzDigest.MatchString(ref.Digest) {
				t.Fatalf("parseImageRef(%q): digest %q", s, ref.Digest)
			}
			if ref.Tag != "" && !fuzzTag.MatchString(ref.Tag) {
				t.Fatalf("parseImageRef(%q): tag %q", s, ref.Tag)
			}
			// The tag written, else the default one when there is no digest.
			base, _, hasDigest := strings.Cut(s, "@")
			wantTag := defaultTag
			if hasDigest {
				wantTag = ""
			}
			if _, tag := splitTag(base); tag != "" || strings.HasSuffix(base, ":") {
				wantTag = tag
			}
			if ref.Tag != wantTag {
				t.Fatalf("parseImageRef(%q, default %q): tag %q, want %q", s, defaultTag, ref.Tag, wantTag)
			}
			if ref.Tag == "" && ref.Digest == "" && defaultTag != "" {
				t.Fatalf("parseImageRef(%q): neither tag nor digest with default tag %q", s, defaultTag)
			}
			// The String form reads back the same, also as a go-containerregistry reference.
			again, err := e.parseImageRef("target", ref.String(), "")
			if err != nil {
				t.Fatalf("parseImageRef(%q) = %s, which does not parse again: %v", s, ref, err)
			}
			if again.String() != ref.String() || again.Repo.Name() != ref.Repo.Name() {
				t.Fatalf("parseImageRef(%q) = %s, which parses again as %s", s, ref, again)
			}
			if ref.Tag != "" || ref.Digest != "" {
				if _, err := name.ParseReference(ref.pinned().String()); err != nil {
					t.Fatalf("parseImageRef(%q): pinned reference %s does not parse: %v", s, ref.pinned(), err)
				}
			}
			// A target reference never makes Locate panic, and names the same repository.
			if repo, _, err := e.Locate(Spec{Source: "registry.invalid/a/b:v1", Target: s}, digestA); err == nil && repo != ref.Repo.Name() {
				t.Fatalf("Locate(%q) = %s, want %s", s, repo, ref.Repo.Name())
			}
		}
	})
}

// checkFuzzedLayoutRef checks an accepted layout reference: a path without ':' and '@', a
// sha256 digest or none, a ref or a digest (a source), and a String form that reads back.
func checkFuzzedLayoutRef(t *testing.T, e *Engine, s string, ref imageRef) {
	if ref.Layout == nil || e.layoutOf(ref.Repo) == nil {
		t.Fatalf("parseImageRef(%q) is not a layout: %+v", s, ref)
	}
	if ref.Layout.Path == "" || strings.ContainsAny(ref.Layout.Path, ":@") {
		t.Fatalf("parseImageRef(%q): path %q", s, ref.Layout.Path)
	}
	if ref.Digest != "" && !fuzzDigest.MatchString(ref.Digest) {
		t.Fatalf("parseImageRef(%q): digest %q", s, ref.Digest)
	}
	if ref.Layout.Name == "" && ref.Digest == "" {
		t.Fatalf("parseImageRef(%q): a source names neither ref nor digest", s)
	}
	again, err := e.parseImageRef("target", ref.String(), "")
	if err != nil || again.String() != ref.String() || again.Repo.Name() != ref.Repo.Name() {
		t.Fatalf("parseImageRef(%q) = %s, which parses again as %s (%v)", s, ref, again, err)
	}
	if repo, _, err := e.Locate(Spec{Source: "registry.invalid/a/b:v1", Target: s}, ref.Digest); err != nil || repo != ref.repository() {
		t.Fatalf("Locate(%q) = %s, %v; want %s", s, repo, err, ref.repository())
	}
}
