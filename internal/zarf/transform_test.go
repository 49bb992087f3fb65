package zarf

import (
	"errors"
	"hash/crc32"
	"strings"
	"testing"
)

const (
	testDigest = "sha256:3fbc632167424a6d997e74f52b878d7cc478225cffac6bc977eedfe51c7f4e79"
	zarfReg    = "127.0.0.1:31999"
)

func TestMirrorRef(t *testing.T) {
	tests := []struct {
		name, registry, image, want string
	}{
		// The two worked examples of the design (also in Zarf's agent tests).
		{"design example nginx", zarfReg, "nginx", zarfReg + "/library/nginx:latest-zarf-3793515731"},
		{"design example podinfo", zarfReg, "ghcr.io/stefanprodan/podinfo:6.4.0", zarfReg + "/stefanprodan/podinfo:6.4.0-zarf-2985051089"},

		// Docker Hub normalisation: every spelling hashes "docker.io/library/nginx".
		{"official image with tag", zarfReg, "nginx:1.27", zarfReg + "/library/nginx:1.27-zarf-3793515731"},
		{"docker.io without library", zarfReg, "docker.io/nginx", zarfReg + "/library/nginx:latest-zarf-3793515731"},
		{"fully qualified docker.io", zarfReg, "docker.io/library/nginx:latest", zarfReg + "/library/nginx:latest-zarf-3793515731"},
		{"legacy index.docker.io", zarfReg, "index.docker.io/nginx", zarfReg + "/library/nginx:latest-zarf-3793515731"},
		{"docker hub namespace", zarfReg, "bitnami/redis:7.2", zarfReg + "/bitnami/redis:7.2-zarf-2117912272"},
		{"uppercase first component is a host", zarfReg, "Foo/bar", zarfReg + "/bar:latest-zarf-697837822"},

		// Other registries.
		{"ghcr with tag", zarfReg, "ghcr.io/stefanprodan/podinfo:6.3.3", zarfReg + "/stefanprodan/podinfo:6.3.3-zarf-2985051089"},
		{"quay into in-cluster address", "zarf-docker-registry.zarf.svc.cluster.local:5000", "quay.io/prometheus/node-exporter:v1.8.2",
			"zarf-docker-registry.zarf.svc.cluster.local:5000/prometheus/node-exporter:v1.8.2-zarf-3836483114"},
		{"localhost with port", zarfReg, "localhost:5000/team/app:v1", zarfReg + "/team/app:v1-zarf-4209810603"},
		{"localhost without port", zarfReg, "localhost/app", zarfReg + "/app:latest-zarf-3184890702"},
		{"host with port, no tag", zarfReg, "registry.example.com:8443/team/app", zarfReg + "/team/app:latest-zarf-3694037569"},
		{"ipv6 host with port", zarfReg, "[::1]:5000/app:1", zarfReg + "/app:1-zarf-1791647334"},

		// Digests: the tag is dropped and no checksum is added.
		{"tag and digest", zarfReg, "ghcr.io/stefanprodan/podinfo:6.4.0@" + testDigest, zarfReg + "/stefanprodan/podinfo@" + testDigest},
		{"digest only", zarfReg, "ghcr.io/stefanprodan/podinfo@" + testDigest, zarfReg + "/stefanprodan/podinfo@" + testDigest},
		{"sha512 digest", zarfReg, "nginx@sha512:" + strings.Repeat("ab", 64), zarfReg + "/library/nginx@sha512:" + strings.Repeat("ab", 64)},

		// "Already transformed": the registry starts with the image's host; image comes back verbatim.
		{"already mirrored", zarfReg, zarfReg + "/library/nginx:latest-zarf-3793515731", zarfReg + "/library/nginx:latest-zarf-3793515731"},
		{"same host, unnormalised string kept", zarfReg, zarfReg + "/nginx", zarfReg + "/nginx"},
		{"registry with path on same host", "gitlab.com/project", "gitlab.com/project/gitea/gitea:1.19.3-rootless-zarf-3431384023", "gitlab.com/project/gitea/gitea:1.19.3-rootless-zarf-3431384023"},
		// Zarf compares prefixes only, so these are left alone too.
		{"image host is a prefix of the registry", zarfReg, "127.0.0.1/x", "127.0.0.1/x"},
		{"registry name starting with docker.io", "docker.io.mirror.example", "nginx", "nginx"},
		// A first component with "." that is no valid host name leaves the host empty in
		// distribution/reference, and every registry starts with "".
		{"first component not a valid host", zarfReg, "a_b.c/d", "a_b.c/d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MirrorRef(tt.registry, tt.image)
			if err != nil {
				t.Fatalf("MirrorRef(%q, %q) error: %v", tt.registry, tt.image, err)
			}
			if got != tt.want {
				t.Fatalf("MirrorRef(%q, %q) = %q, want %q", tt.registry, tt.image, got, tt.want)
			}
		})
	}
}

// Zarf's own vectors: src/pkg/transform/image_test.go (TestImageTransformHost), target "gitlab.com/project".
func TestMirrorRefZarfVectors(t *testing.T) {
	vectors := []struct{ image, want string }{
		{"nginx", "gitlab.com/project/library/nginx:latest-zarf-3793515731"},
		{"nginx:1.23.3", "gitlab.com/project/library/nginx:1.23.3-zarf-3793515731"},
		{"defenseunicorns/zarf-agent:v0.22.1", "gitlab.com/project/defenseunicorns/zarf-agent:v0.22.1-zarf-4283503412"},
		{"defenseunicorns/zarf-agent@sha256:84605f731c6a18194794c51e70021c671ab064654b751aa57e905bce55be13de",
			"gitlab.com/project/defenseunicorns/zarf-agent@sha256:84605f731c6a18194794c51e70021c671ab064654b751aa57e905bce55be13de"},
		{"busybox:latest@" + testDigest, "gitlab.com/project/library/busybox@" + testDigest},
		{"ghcr.io/stefanprodan/podinfo:6.3.3", "gitlab.com/project/stefanprodan/podinfo:6.3.3-zarf-2985051089"},
		{"registry1.dso.mil/ironbank/opensource/defenseunicorns/zarf/zarf-agent:v0.25.0",
			"gitlab.com/project/ironbank/opensource/defenseunicorns/zarf/zarf-agent:v0.25.0-zarf-2003217571"},
		{"gitlab.com/project/gitea/gitea:1.19.3-rootless-zarf-3431384023", "gitlab.com/project/gitea/gitea:1.19.3-rootless-zarf-3431384023"},
		// Zarf's vector is "oci://10.43.130.183:5000/…" from a version that stripped oci://; the
		// current ImageTransformHost does not, so the vector is used without the scheme.
		{"10.43.130.183:5000/stefanprodan/manifests/podinfo", "gitlab.com/project/stefanprodan/manifests/podinfo:latest-zarf-531355090"},
	}
	for _, v := range vectors {
		got, err := MirrorRef("gitlab.com/project", v.image)
		if err != nil {
			t.Errorf("MirrorRef(gitlab.com/project, %q) error: %v", v.image, err)
			continue
		}
		if got != v.want {
			t.Errorf("MirrorRef(gitlab.com/project, %q) = %q, want %q", v.image, got, v.want)
		}
	}
	// Zarf's badImageRefs.
	for _, bad := range []string{"i am not a ref at all", `C:\Users\zarf`, "http://urls.are/not/refs"} {
		if got, err := MirrorRef("gitlab.com/project", bad); err == nil {
			t.Errorf("MirrorRef(gitlab.com/project, %q) = %q, want an error", bad, got)
		}
	}
}

func TestChecksumInputIsNormalisedName(t *testing.T) {
	// docker.io, not index.docker.io or registry-1.docker.io, and no tag.
	if got := crc32.ChecksumIEEE([]byte("docker.io/library/nginx")); got != 3793515731 {
		t.Fatalf("crc32(docker.io/library/nginx) = %d", got)
	}
	for _, s := range []string{"nginx", "nginx:1", "docker.io/nginx", "index.docker.io/library/nginx:2"} {
		img, reason := parseImage(s)
		if reason != "" || img.Name != "docker.io/library/nginx" || img.Host != "docker.io" || img.Path != "library/nginx" {
			t.Errorf("parseImage(%q) = %+v, %q", s, img, reason)
		}
	}
}

func TestMirrorRefErrors(t *testing.T) {
	long := strings.Repeat("t", 120)
	tests := []struct {
		name, registry, image, wantArg, wantText string
	}{
		{"empty image", zarfReg, "", ArgImage, "must not be empty"},
		{"uppercase repository", zarfReg, "Nginx", ArgImage, "must be lowercase"},
		{"uppercase path on ghcr", zarfReg, "ghcr.io/Org/app:1", ArgImage, `"Org/app" must be lowercase`},
		{"short digest", zarfReg, "nginx@sha256:abc", ArgImage, `digest "sha256:abc" must have the form`},
		{"digest of wrong length", zarfReg, "nginx@sha256:" + strings.Repeat("a", 63), ArgImage, "must have 64 hex digits"},
		{"digest uppercase hex", zarfReg, "nginx@sha256:" + strings.Repeat("A", 64), ArgImage, "lowercase hex"},
		{"unsupported digest algorithm", zarfReg, "nginx@md5:" + strings.Repeat("a", 32), ArgImage, `unsupported algorithm "md5"`},
		{"bare digest", zarfReg, testDigest, ArgImage, "digest without an image name"},
		{"bare identifier", zarfReg, strings.Repeat("a", 64), ArgImage, "hex identifier"},
		{"oci scheme", zarfReg, "oci://ghcr.io/stefanprodan/manifests/podinfo:6.4.0", ArgImage, "not a URL"},
		{"https url", zarfReg, "http://urls.are/not/refs", ArgImage, "not a URL"},
		{"spaces", zarfReg, "i am not a ref at all", ArgImage, "whitespace"},
		{"tag too long", zarfReg, "nginx:" + strings.Repeat("t", 129), ArgImage, "1 to 128"},
		{"tag starting with dot", zarfReg, "nginx:.x", ArgImage, `tag ".x" is invalid`},
		{"double slash", zarfReg, "ghcr.io//x", ArgImage, "not a valid image reference"},
		{"path too long", zarfReg, "ghcr.io/" + strings.Repeat("a", 256), ArgImage, "255"},
		{"tag too long for the zarf suffix", zarfReg, "nginx:" + long, ArgImage, "too long"},
		{"empty registry", "", "nginx", ArgRegistry, "must not be empty"},
		{"registry with scheme", "https://127.0.0.1:31999", "nginx", ArgRegistry, "without a scheme"},
		{"registry with trailing slash", zarfReg + "/", "nginx", ArgRegistry, `must not end with "/"`},
		{"registry with underscore host", "bad_host:5000", "nginx", ArgRegistry, "registry host"},
		{"registry with uppercase path", "example.com/Zarf", "nginx", ArgRegistry, "lowercase"},
		{"registry with spaces", "127.0.0.1: 31999", "nginx", ArgRegistry, "whitespace"},
		{"registry path makes name too long", "gitlab.com/" + strings.Repeat("p", 250), "ghcr.io/org/app", ArgRegistry, "would be invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MirrorRef(tt.registry, tt.image)
			if err == nil {
				t.Fatalf("MirrorRef(%q, %q) = %q, want an error", tt.registry, tt.image, got)
			}
			var ae *ArgumentError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v is not an *ArgumentError", err)
			}
			if ae.Argument != tt.wantArg {
				t.Errorf("error names argument %q, want %q (%v)", ae.Argument, tt.wantArg, err)
			}
			if !strings.Contains(err.Error(), tt.wantText) || !strings.Contains(err.Error(), tt.wantArg) {
				t.Errorf("error %q does not mention %q and %q", err, tt.wantArg, tt.wantText)
			}
		})
	}
}

func FuzzMirrorRef(f *testing.F) {
	registries := []string{zarfReg, "gitlab.com/project", "localhost:5000", "[::1]:5000/zarf", "docker.io", "registry", ""}
	images := []string{
		"nginx", "nginx:1.27", "ghcr.io/stefanprodan/podinfo:6.4.0", "busybox:latest@" + testDigest,
		"defenseunicorns/zarf-agent@sha256:84605f731c6a18194794c51e70021c671ab064654b751aa57e905bce55be13de",
		"localhost:5000/team/app:v1", "[::1]:5000/app:1", "index.docker.io/nginx", "a_b.c/d", "Foo/bar",
		testDigest, strings.Repeat("a", 64), "oci://x/y", "nginx@md5:" + strings.Repeat("a", 32),
		"nginx:" + strings.Repeat("t", 120), "i am not a ref", `C:\Users\zarf`, "",
	}
	for _, r := range registries {
		for _, i := range images {
			f.Add(r, i)
		}
	}
	f.Fuzz(func(t *testing.T, registry, image string) {
		out, err := MirrorRef(registry, image)
		if err != nil {
			var ae *ArgumentError
			if !errors.As(err, &ae) || (ae.Argument != ArgRegistry && ae.Argument != ArgImage) {
				t.Fatalf("MirrorRef(%q, %q): unexpected error type %T: %v", registry, image, err, err)
			}
			return
		}
		if _, reason := parseImage(out); reason != "" {
			t.Fatalf("MirrorRef(%q, %q) = %q, which does not parse: %s", registry, image, out, reason)
		}
		if out != image && !strings.HasPrefix(out, registry+"/") {
			t.Fatalf("MirrorRef(%q, %q) = %q, neither unchanged nor under the registry", registry, image, out)
		}
		if again, err := MirrorRef(registry, image); err != nil || again != out {
			t.Fatalf("MirrorRef(%q, %q) not deterministic: %q/%v then %q/%v", registry, image, out, nil, again, err)
		}
	})
}
