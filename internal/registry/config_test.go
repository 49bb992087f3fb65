package registry

import (
	"fmt"
	"strings"
	"testing"
)

func TestValidateAcceptsValidConfigs(t *testing.T) {
	ca := newCA(t)
	for name, cfg := range map[string]Config{
		"zero": {},
		"full": {
			InsecureRegistries: []string{"127.0.0.1:5000", "localhost", "[::1]:5000", "registry.internal"},
			CAPEM:              append([]byte("# corporate roots\n"), ca.PEM()...),
			Credentials: []Credential{
				{Address: "registry.example.com", Username: "ci", Password: "s3cret"},
				{Address: "docker.io", Username: "me", Password: "token"},
			},
			MaxRetries: intPtr(0),
			Jobs:       8,
		},
		"whitespace ca_pem": {CAPEM: []byte("\n  \n")},
	} {
		t.Run(name, func(t *testing.T) {
			if err := cfg.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
		})
	}
}

func TestValidateMessages(t *testing.T) {
	for name, tc := range map[string]struct {
		cfg  Config
		want string
	}{
		"password without username": {
			Config{Credentials: []Credential{{Address: "reg.example.com", Password: "p"}}},
			`registry_auth for "reg.example.com": password is set but username is empty`,
		},
		"username without password": {
			Config{Credentials: []Credential{{Address: "reg.example.com", Username: "u"}}},
			`registry_auth for "reg.example.com": username is set but password is empty`,
		},
		"empty credentials": {
			Config{Credentials: []Credential{{Address: "reg.example.com"}}},
			`registry_auth for "reg.example.com": username and password are empty`,
		},
		"address with scheme": {
			Config{Credentials: []Credential{{Address: "https://reg.example.com/v2/", Username: "u", Password: "p"}}},
			`registry_auth block 1: address "https://reg.example.com/v2/" has a scheme; write the host[:port] alone, e.g. "reg.example.com"`,
		},
		"address with path": {
			Config{Credentials: []Credential{{Address: "reg.example.com/team", Username: "u", Password: "p"}}},
			`registry_auth block 1: address "reg.example.com/team" has a path; write the host[:port] alone, e.g. "reg.example.com"`,
		},
		"empty address": {
			Config{Credentials: []Credential{{Username: "u", Password: "p"}}},
			`registry_auth block 1: address "" is empty; expected host[:port]`,
		},
		"docker hub twice": {
			Config{Credentials: []Credential{
				{Address: "docker.io", Username: "u", Password: "p"},
				{Address: "index.docker.io", Username: "u", Password: "p"},
			}},
			`registry_auth: addresses "docker.io" and "index.docker.io" name the same registry index.docker.io`,
		},
		"insecure with scheme": {
			Config{InsecureRegistries: []string{"http://127.0.0.1:5000"}},
			`insecure_registries: "http://127.0.0.1:5000" has a scheme; write the host[:port] alone, e.g. "127.0.0.1:5000"`,
		},
		"insecure bad port": {
			Config{InsecureRegistries: []string{"127.0.0.1:port"}},
			`insecure_registries: "127.0.0.1:port" is not a valid host[:port]`,
		},
		"ca_pem garbage": {
			Config{CAPEM: []byte("not a certificate")},
			"ca_pem: no PEM-encoded certificate found",
		},
		"ca_pem private key": {
			Config{CAPEM: []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")},
			`ca_pem: PEM block 1 is a "PRIVATE KEY", expected CERTIFICATE`,
		},
		"ca_pem bad certificate": {
			Config{CAPEM: []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")},
			"ca_pem: PEM block 1: x509:",
		},
		"negative max_retries": {Config{MaxRetries: intPtr(-1)}, "max_retries must be 0 or more, got -1"},
		"negative jobs":        {Config{Jobs: -2}, "jobs must be 1 or more, got -2"},
	} {
		t.Run(name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if err == nil {
				t.Fatal("Validate accepted an invalid config")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate: %v\nwant it to contain: %s", err, tc.want)
			}
			if _, err := New(tc.cfg); err == nil || err.Error() != tc.cfg.Validate().Error() {
				t.Fatalf("New: %v, want the Validate error", err)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	err := Config{
		InsecureRegistries: []string{""},
		Credentials:        []Credential{{Address: "reg.example.com", Password: "p"}},
		Jobs:               -1,
		MaxRetries:         intPtr(-1),
	}.Validate()
	if err == nil {
		t.Fatal("Validate accepted an invalid config")
	}
	for _, want := range []string{"insecure_registries", "registry_auth", "jobs", "max_retries"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v\nwant a problem about %s", err, want)
		}
	}
}

func TestCredentialIsNeverPrinted(t *testing.T) {
	cfg := Config{Credentials: []Credential{{Address: "reg.example.com", Username: "ci", Password: "hunter2"}}}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if out := fmt.Sprintf(format, cfg); strings.Contains(out, "hunter2") {
			t.Errorf("%s of a Config shows the password: %s", format, out)
		}
		if out := fmt.Sprintf(format, cfg.Credentials[0]); strings.Contains(out, "hunter2") || !strings.Contains(out, "reg.example.com") {
			t.Errorf("%s of a Credential: %s", format, out)
		}
	}
}

func TestParseReference(t *testing.T) {
	c := newClient(t, Config{InsecureRegistries: []string{"127.0.0.1:5000", "registry.internal:5000", "Docker.io"}})
	for _, tc := range []struct {
		in, want, scheme string
	}{
		{"nginx", "index.docker.io/library/nginx:latest", "http"}, // Docker Hub listed through the docker.io alias
		{"ghcr.io/stefanprodan/podinfo:6.4.0", "ghcr.io/stefanprodan/podinfo:6.4.0", "https"},
		{"registry.internal:5000/team/app@sha256:" + strings.Repeat("a", 64), "registry.internal:5000/team/app@sha256:" + strings.Repeat("a", 64), "http"},
		{"registry.internal:5001/team/app:v1", "registry.internal:5001/team/app:v1", "https"},
		{"127.0.0.1:5000/app:1", "127.0.0.1:5000/app:1", "http"},
	} {
		ref, err := c.ParseReference(tc.in)
		if err != nil {
			t.Errorf("ParseReference(%q): %v", tc.in, err)
			continue
		}
		if got := ref.Name(); got != tc.want {
			t.Errorf("ParseReference(%q) = %s, want %s", tc.in, got, tc.want)
		}
		if got := ref.Context().Scheme(); got != tc.scheme {
			t.Errorf("ParseReference(%q) scheme %s, want %s", tc.in, got, tc.scheme)
		}
	}
	for in, want := range map[string]string{
		"https://ghcr.io/a/b": "registry references have no scheme",
		"":                    `invalid image reference ""`,
		"Nginx:1":             `invalid image reference "Nginx:1"`,
		"nginx@sha256:abc":    `invalid image reference "nginx@sha256:abc"`,
	} {
		if _, err := c.ParseReference(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseReference(%q) = %v, want an error containing %q", in, err, want)
		}
	}
}

func TestParseRepository(t *testing.T) {
	c := newClient(t, Config{InsecureRegistries: []string{"registry.internal:5000"}})
	repo, err := c.ParseRepository("registry.internal:5000/library/nginx")
	if err != nil || repo.Name() != "registry.internal:5000/library/nginx" || repo.Scheme() != "http" {
		t.Fatalf("ParseRepository = %v (scheme %s), %v", repo, repo.Scheme(), err)
	}
	repo, err = c.ParseRepository("nginx")
	if err != nil || repo.Name() != "index.docker.io/library/nginx" || repo.Scheme() != "https" {
		t.Fatalf("ParseRepository = %v (scheme %s), %v", repo, repo.Scheme(), err)
	}
	for _, in := range []string{"nginx:1.27", "oci-layout://dir", ""} {
		if _, err := c.ParseRepository(in); err == nil || !strings.Contains(err.Error(), "invalid repository") {
			t.Errorf("ParseRepository(%q) = %v, want an invalid repository error", in, err)
		}
	}
}

// TestValidateAddressAndCAPEM: the per-value checks that terraform validate runs give the
// answers of Config.Validate.
func TestValidateAddressAndCAPEM(t *testing.T) {
	for _, ok := range []string{"127.0.0.1:5000", "registry.lab", "[::1]:5000", "docker.io"} {
		if err := ValidateAddress(ok); err != nil {
			t.Errorf("ValidateAddress(%q) = %v", ok, err)
		}
	}
	for in, want := range map[string]string{
		"":                      `"" is empty; expected host[:port]`,
		"https://registry.lab/": `"https://registry.lab/" has a scheme; write the host[:port] alone, e.g. "registry.lab"`,
		"registry.lab/team":     `"registry.lab/team" has a path`,
		"127.0.0.1:port":        `"127.0.0.1:port" is not a valid host[:port]`,
	} {
		if err := ValidateAddress(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidateAddress(%q) = %v, want %q", in, err, want)
		}
	}
	if err := ValidateCAPEM(nil); err != nil {
		t.Errorf("ValidateCAPEM(empty) = %v", err)
	}
	if err := ValidateCAPEM([]byte("not a certificate")); err == nil || !strings.Contains(err.Error(), "no PEM-encoded certificate found") {
		t.Errorf("ValidateCAPEM(garbage) = %v", err)
	}
}
