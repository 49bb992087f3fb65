package mirror

import (
	"errors"
	"strings"
	"testing"
)

const (
	digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func TestParseImageRef(t *testing.T) {
	e := New()
	cases := []struct {
		in, defaultTag            string
		repo, tag, digest, pinned string
	}{
		{"nginx", "latest", "index.docker.io/library/nginx", "latest", "", "index.docker.io/library/nginx:latest"},
		{"nginx:1.27", "latest", "index.docker.io/library/nginx", "1.27", "", "index.docker.io/library/nginx:1.27"},
		{"docker.io/library/nginx", "latest", "index.docker.io/library/nginx", "latest", "", "index.docker.io/library/nginx:latest"},
		{"bitnami/redis:7", "latest", "index.docker.io/bitnami/redis", "7", "", "index.docker.io/bitnami/redis:7"},
		{"nginx", "", "index.docker.io/library/nginx", "", "", "index.docker.io/library/nginx:"},
		{"registry.internal/library/nginx", "", "registry.internal/library/nginx", "", "", "registry.internal/library/nginx:"},
		{"127.0.0.1:5000/a/b:v1", "", "127.0.0.1:5000/a/b", "v1", "", "127.0.0.1:5000/a/b:v1"},
		{"127.0.0.1:5000/a/b", "latest", "127.0.0.1:5000/a/b", "latest", "", "127.0.0.1:5000/a/b:latest"},
		// a digest pins; no default tag is added, an explicit one is kept
		{"nginx@" + digestA, "latest", "index.docker.io/library/nginx", "", digestA, "index.docker.io/library/nginx@" + digestA},
		{"nginx:1.27@" + digestA, "latest", "index.docker.io/library/nginx", "1.27", digestA, "index.docker.io/library/nginx@" + digestA},
		{"127.0.0.1:5000/a/b:v1@" + digestA, "", "127.0.0.1:5000/a/b", "v1", digestA, "127.0.0.1:5000/a/b@" + digestA},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			ref, err := e.parseImageRef("source", tc.in, tc.defaultTag)
			if err != nil {
				t.Fatal(err)
			}
			if ref.Repo.Name() != tc.repo || ref.Tag != tc.tag || ref.Digest != tc.digest {
				t.Fatalf("parseImageRef(%q) = %q %q %q, want %q %q %q", tc.in, ref.Repo.Name(), ref.Tag, ref.Digest, tc.repo, tc.tag, tc.digest)
			}
			if tc.tag != "" || tc.digest != "" {
				if got := ref.pinned().String(); got != tc.pinned {
					t.Fatalf("pinned() = %q, want %q", got, tc.pinned)
				}
			}
		})
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
			if rerr.Attribute != "source" || rerr.Value != tc.source {
				t.Fatalf("error names %s %q", rerr.Attribute, rerr.Value)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("error %q does not contain %q", err, tc.reason)
			}
		})
	}
}

func TestPlanSpecErrors(t *testing.T) {
	e := New()
	if _, err := e.Plan(t.Context(), Spec{Source: "registry.invalid/a/b", IndexMode: "sparse"}); err == nil || !strings.Contains(err.Error(), "index_mode") {
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
