package provider

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
)

// Acceptance tests of the provider block: registry_auth, ca_pem, insecure_registries and the
// Docker config, against real registries that serve TLS with their own CA and require their
// own htpasswd credentials.

// authImages is a small two-platform index with attestations: enough to exercise blobs,
// manifests and the index through authenticated TLS on both sides.
var authImages = registrytest.IndexSpec{
	Images: []registrytest.ImageSpec{
		{Platform: "linux/amd64", Layers: []int64{1024, 512}, Seed: 11},
		{Platform: "linux/arm64", Layers: []int64{900}, Seed: 12},
	},
	Attestations: true,
}

// startAuthTLS starts a registry that serves TLS (its own CA) and requires user and password.
func startAuthTLS(t *testing.T, user, password string) *registrytest.Registry {
	t.Helper()
	return registrytest.Start(t, registrytest.WithTLS(), registrytest.WithBasicAuth(user, password))
}

// authOf is the registry_auth block with r's own credentials.
func authOf(r *registrytest.Endpoint) authBlock {
	return authBlock{address: r.Host, username: r.Username, password: r.Password}
}

// caBundle concatenates the CA certificates of the endpoints, as a user's ca_pem file would.
func caBundle(eps ...*registrytest.Endpoint) []byte {
	var b []byte
	for _, e := range eps {
		b = append(b, e.CAPEM...)
	}
	return b
}

// isolateDockerConfig points DOCKER_CONFIG at a fresh directory with an empty config.json, for
// a test that writes Docker config entries of its own, and returns the directory. The provider
// runs inside the test process, so the variable reaches its keychain; because it is
// process-wide (t.Setenv), such a test cannot run in parallel. Every other test sees the empty
// Docker config that TestMain sets up.
func isolateDockerConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
	return dir
}

// writeDockerConfig writes dir/config.json with "auths" entries (host → base64(user:password))
// plus any extra top-level keys (e.g. credHelpers).
func writeDockerConfig(t *testing.T, dir string, auths map[string][2]string, extra map[string]any) {
	t.Helper()
	entries := map[string]any{}
	for host, up := range auths {
		entries[host] = map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(up[0] + ":" + up[1]))}
	}
	doc := map[string]any{"auths": entries}
	for k, v := range extra {
		doc[k] = v
	}
	raw, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), raw, 0o600); err != nil {
		t.Fatal(err)
	}
}

// phrase matches the words of s in order, separated by any white space: Terraform wraps long
// diagnostic lines.
func phrase(s string) string {
	words := strings.Fields(s)
	for i, w := range words {
		words[i] = regexp.QuoteMeta(w)
	}
	return strings.Join(words, `\s+`)
}

// phrases matches each of the phrases, in order, anywhere in the error.
func phrases(ss ...string) *regexp.Regexp {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = phrase(s)
	}
	return regexp.MustCompile(`(?s)` + strings.Join(parts, `.*`))
}

// expectErrorWithout is a TestCase.ErrorCheck for test cases whose single failing step has no
// ExpectError: the step's error must match want and contain none of the secrets (plain or
// base64, as in a Basic Authorization header). The test fails if no step failed.
func expectErrorWithout(t *testing.T, want *regexp.Regexp, secrets ...string) resource.ErrorCheckFunc {
	t.Helper()
	called := false
	t.Cleanup(func() {
		if !called && !t.Failed() && !t.Skipped() {
			t.Errorf("expected an error matching %s, got none", want)
		}
	})
	return func(err error) error {
		called = true
		msg := err.Error()
		if !want.MatchString(msg) {
			return fmt.Errorf("error does not match %s: %w", want, err)
		}
		for _, s := range secretForms(secrets...) {
			if strings.Contains(msg, s) {
				return fmt.Errorf("the error reveals a secret (%q): %w", s, err)
			}
		}
		t.Logf("expected error: %v", err)
		return nil
	}
}

func TestAccProviderAuth_tlsSourceAndTargetWithOwnCredentials(t *testing.T) {
	t.Parallel()
	src := startAuthTLS(t, "src-user", "src-Pa55-7d41e0")
	dst := startAuthTLS(t, "dst-user", "dst-Pa55-93bc2a")
	desc := registrytest.PushIndex(t, src.Ref("app/web:1.0"), authImages, src.RemoteOptions()...)
	raw, _ := registrytest.Fetch(t, src.Ref("app/web:1.0"), src.RemoteOptions()...)
	digest := desc.Digest.String()

	config := mirrorWith(providerBlock{
		caPEM: caBundle(&src.Endpoint, &dst.Endpoint),
		auth:  []authBlock{authOf(&src.Endpoint), authOf(&dst.Endpoint)},
	}, src.Ref("app/web:1.0"), dst.Ref("mirror/web"))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("digest"), knownvalue.StringExact(digest)),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("source_digest"), knownvalue.StringExact(digest)),
					statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("digest"), knownvalue.StringExact(digest)),
					statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("ref"), knownvalue.StringExact(dst.Ref("mirror/web:1.0@"+digest))),
				},
				Check: func(*terraform.State) error {
					got, mt := registrytest.Fetch(t, dst.Ref("mirror/web:1.0"), dst.RemoteOptions()...)
					if !bytes.Equal(got, raw) || mt != types.OCIImageIndex {
						return fmt.Errorf("the target serves other bytes (%s) than the source:\n got: %s\nwant: %s", mt, got, raw)
					}
					return nil
				},
			},
			{
				// Refresh and plan read both registries again, with the same credentials.
				Config:           config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

func TestAccProviderAuth_wrongSourcePasswordNamesTheCredentialSource(t *testing.T) {
	t.Parallel()
	src := startAuthTLS(t, "src-user", "src-Pa55-right")
	dst := registrytest.Start(t)
	registrytest.PushIndex(t, src.Ref("app/web:1.0"), authImages, src.RemoteOptions()...)
	const wrong = "Wr0ng-src-Pa55-c0ffee"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		ErrorCheck: expectErrorWithout(t, phrases(
			"Cannot plan the mirror of "+src.Ref("app/web:1.0"),
			fmt.Sprintf("registry %s refused access to repository %q with credentials from registry_auth for %s", src.Host, "app/web", src.Host),
			"check the credentials",
		), wrong, src.Password),
		Steps: []resource.TestStep{{
			Config: mirrorWith(providerBlock{
				insecure: []string{dst.Host},
				caPEM:    src.CAPEM,
				auth:     []authBlock{{address: src.Host, username: src.Username, password: wrong}},
			}, src.Ref("app/web:1.0"), dst.Ref("mirror/web")),
		}},
	})
}

func TestAccProviderAuth_wrongTargetPasswordNamesTheCredentialSource(t *testing.T) {
	t.Parallel()
	src := registrytest.Start(t)
	dst := startAuthTLS(t, "dst-user", "dst-Pa55-right")
	registrytest.PushIndex(t, src.Ref("app/web:1.0"), authImages)
	const wrong = "Wr0ng-dst-Pa55-beef00"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		ErrorCheck: expectErrorWithout(t, phrases(
			fmt.Sprintf("registry %s refused access to repository %q with credentials from registry_auth for %s", dst.Host, "mirror/web", dst.Host),
		), wrong, dst.Password),
		Steps: []resource.TestStep{{
			Config: mirrorWith(providerBlock{
				insecure: []string{src.Host},
				caPEM:    dst.CAPEM,
				auth:     []authBlock{{address: dst.Host, username: dst.Username, password: wrong}},
			}, src.Ref("app/web:1.0"), dst.Ref("mirror/web")),
		}},
		CheckDestroy: func(*terraform.State) error {
			if registrytest.Exists(t, dst.Ref("mirror/web:1.0"), dst.RemoteOptions()...) {
				return fmt.Errorf("the target was written with wrong credentials")
			}
			return nil
		},
	})
}

func TestAccProviderAuth_missingCAPEMExplainsTheWayOut(t *testing.T) {
	t.Parallel()
	src := registrytest.Start(t, registrytest.WithTLS())
	dst := registrytest.Start(t)
	registrytest.PushIndex(t, src.Ref("app/web:1.0"), authImages, src.RemoteOptions()...)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: mirrorWith(providerBlock{insecure: []string{dst.Host}}, src.Ref("app/web:1.0"), dst.Ref("mirror/web")),
			ExpectError: phrases(
				fmt.Sprintf("the TLS certificate of registry %s could not be verified", src.Host),
				"add the CA certificate that signed it to ca_pem",
				fmt.Sprintf("or list %s in insecure_registries", src.Host),
				"x509:",
			),
		}},
	})
}

// TestAccProviderAuth_caPEMOfAnotherCAIsNotTrusted: ca_pem adds trust in its own CAs only.
func TestAccProviderAuth_caPEMOfAnotherCAIsNotTrusted(t *testing.T) {
	t.Parallel()
	src := registrytest.Start(t, registrytest.WithTLS())
	other := registrytest.Start(t, registrytest.WithTLS())
	dst := registrytest.Start(t)
	registrytest.PushIndex(t, src.Ref("app/web:1.0"), authImages, src.RemoteOptions()...)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: mirrorWith(providerBlock{insecure: []string{dst.Host}, caPEM: other.CAPEM},
				src.Ref("app/web:1.0"), dst.Ref("mirror/web")),
			ExpectError: phrases(fmt.Sprintf("the TLS certificate of registry %s could not be verified", src.Host), "ca_pem"),
		}},
	})
}

// TestAccProviderAuth_insecureRegistrySkipsVerification: a TLS registry listed in
// insecure_registries is reached without ca_pem.
func TestAccProviderAuth_insecureRegistrySkipsVerification(t *testing.T) {
	t.Parallel()
	src := startAuthTLS(t, "src-user", "src-Pa55-insecure")
	dst := registrytest.Start(t)
	desc := registrytest.PushIndex(t, src.Ref("app/web:1.0"), authImages, src.RemoteOptions()...)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: mirrorWith(providerBlock{insecure: []string{src.Host, dst.Host}, auth: []authBlock{authOf(&src.Endpoint)}},
				src.Ref("app/web:1.0"), dst.Ref("mirror/web")),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("digest"), knownvalue.StringExact(desc.Digest.String())),
			},
		}},
	})
}

func TestAccProviderAuth_plainHTTPToUnlistedHostIsRefused(t *testing.T) {
	t.Parallel()
	src := registrytest.Start(t) // plain HTTP on 127.0.0.1, where go-containerregistry would fall back to HTTP
	dst := registrytest.Start(t)
	registrytest.PushIndex(t, src.Ref("app/web:1.0"), authImages)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: mirrorWith(providerBlock{insecure: []string{dst.Host}}, src.Ref("app/web:1.0"), dst.Ref("mirror/web")),
			ExpectError: phrases(
				fmt.Sprintf("registry %s answered over plain HTTP", src.Host),
				"it is not listed in insecure_registries",
			),
		}},
	})
}

// TestAccProviderAuth_plainHTTPTargetIsRefused: the same for the target, which apply reaches:
// nothing may be pushed over plain HTTP.
func TestAccProviderAuth_plainHTTPTargetIsRefused(t *testing.T) {
	t.Parallel()
	src := registrytest.Start(t)
	dst := registrytest.Start(t)
	registrytest.PushIndex(t, src.Ref("app/web:1.0"), authImages)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config:      mirrorWith(providerBlock{insecure: []string{src.Host}}, src.Ref("app/web:1.0"), dst.Ref("mirror/web")),
			ExpectError: phrases(dst.Host, "not listed in insecure_registries"),
		}},
		CheckDestroy: func(*terraform.State) error {
			if registrytest.Exists(t, dst.Ref("mirror/web:1.0")) {
				return fmt.Errorf("the index was pushed over plain HTTP")
			}
			return nil
		},
	})
}

// TestAccProviderAuth_dockerConfig: without registry_auth, credentials come from the Docker
// config that DOCKER_CONFIG points at.
func TestAccProviderAuth_dockerConfig(t *testing.T) {
	dir := isolateDockerConfig(t)
	src := startAuthTLS(t, "src-user", "src-Pa55-docker")
	dst := startAuthTLS(t, "dst-user", "dst-Pa55-docker")
	desc := registrytest.PushIndex(t, src.Ref("app/web:1.0"), authImages, src.RemoteOptions()...)
	writeDockerConfig(t, dir, map[string][2]string{
		src.Host: {src.Username, src.Password},
		dst.Host: {dst.Username, dst.Password},
	}, nil)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: mirrorWith(providerBlock{caPEM: caBundle(&src.Endpoint, &dst.Endpoint)}, src.Ref("app/web:1.0"), dst.Ref("mirror/web")),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("digest"), knownvalue.StringExact(desc.Digest.String())),
			},
			Check: func(*terraform.State) error {
				if !registrytest.Exists(t, dst.Ref("mirror/web@"+desc.Digest.String()), dst.RemoteOptions()...) {
					return fmt.Errorf("the index is missing at the target")
				}
				return nil
			},
		}},
	})
}

// TestAccProviderAuth_wrongDockerConfigPasswordNamesTheDockerConfig: the error says the
// credentials came from the Docker config.
func TestAccProviderAuth_wrongDockerConfigPasswordNamesTheDockerConfig(t *testing.T) {
	dir := isolateDockerConfig(t)
	src := startAuthTLS(t, "src-user", "src-Pa55-right")
	dst := registrytest.Start(t)
	registrytest.PushIndex(t, src.Ref("app/web:1.0"), authImages, src.RemoteOptions()...)
	const wrong = "Wr0ng-docker-Pa55-5eed"
	writeDockerConfig(t, dir, map[string][2]string{src.Host: {src.Username, wrong}}, nil)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		ErrorCheck: expectErrorWithout(t, phrases(
			fmt.Sprintf("registry %s refused access to repository %q with credentials from the Docker config", src.Host, "app/web"),
		), wrong),
		Steps: []resource.TestStep{{
			Config: mirrorWith(providerBlock{insecure: []string{dst.Host}, caPEM: src.CAPEM}, src.Ref("app/web:1.0"), dst.Ref("mirror/web")),
		}},
	})
}

// TestAccProviderAuth_anonymousIsNamed: with no credentials anywhere, the error says so.
func TestAccProviderAuth_anonymousIsNamed(t *testing.T) {
	t.Parallel()
	src := startAuthTLS(t, "src-user", "src-Pa55-anon")
	dst := registrytest.Start(t)
	registrytest.PushIndex(t, src.Ref("app/web:1.0"), authImages, src.RemoteOptions()...)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: mirrorWith(providerBlock{insecure: []string{dst.Host}, caPEM: src.CAPEM}, src.Ref("app/web:1.0"), dst.Ref("mirror/web")),
			ExpectError: phrases(
				fmt.Sprintf("registry %s refused access to repository %q with no credentials", src.Host, "app/web"),
				"neither a registry_auth block nor the Docker config has an entry for "+src.Host,
			),
		}},
	})
}

// TestAccProviderAuth_credentialHelper: a Docker config credHelpers entry runs
// docker-credential-<name> from PATH.
func TestAccProviderAuth_credentialHelper(t *testing.T) {
	dir := isolateDockerConfig(t)
	src := startAuthTLS(t, "src-user", "src-Pa55-helper")
	dst := registrytest.Start(t)
	desc := registrytest.PushIndex(t, src.Ref("app/web:1.0"), authImages, src.RemoteOptions()...)

	bin := t.TempDir()
	out, err := json.Marshal(map[string]string{"ServerURL": src.Host, "Username": src.Username, "Secret": src.Password})
	if err != nil {
		t.Fatal(err)
	}
	helper := fmt.Sprintf("#!/bin/sh\n[ \"$1\" = get ] || exit 1\ncat >/dev/null\nprintf '%%s\\n' '%s'\n", out)
	if err := os.WriteFile(filepath.Join(bin, "docker-credential-zarftest"), []byte(helper), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	writeDockerConfig(t, dir, nil, map[string]any{"credHelpers": map[string]string{src.Host: "zarftest"}})

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: mirrorWith(providerBlock{insecure: []string{dst.Host}, caPEM: src.CAPEM}, src.Ref("app/web:1.0"), dst.Ref("mirror/web")),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("digest"), knownvalue.StringExact(desc.Digest.String())),
			},
		}},
	})
}

// TestAccProviderConfig_invalid: configuration mistakes are reported before any registry is
// contacted, naming the attribute and the value, and with the fix where there is one.
func TestAccProviderConfig_invalid(t *testing.T) {
	t.Parallel()
	const (
		source = "127.0.0.1:1/app/web:1.0" // never contacted
		target = "127.0.0.1:1/mirror/web"
	)
	for name, tc := range map[string]struct {
		provider string
		want     *regexp.Regexp
	}{
		"password without username": {
			provider: providerBlock{auth: []authBlock{{address: "registry.example.com", password: "s3cret"}}}.String(),
			want:     phrases(`registry_auth for "registry.example.com": password is set but username is empty`),
		},
		"username attribute missing": {
			provider: "provider \"zarf\" {\n  registry_auth {\n    address  = \"registry.example.com\"\n    password = \"s3cret\"\n  }\n}\n",
			want:     phrases(`The argument "username" is required`),
		},
		"username without password": {
			provider: providerBlock{auth: []authBlock{{address: "registry.example.com", username: "ci"}}}.String(),
			want:     phrases(`registry_auth for "registry.example.com": username is set but password is empty`),
		},
		"address with a scheme": {
			provider: providerBlock{auth: []authBlock{{address: "https://registry.example.com:5000", username: "ci", password: "s3cret"}}}.String(),
			want:     phrases("Invalid registry address", `address = "https://registry.example.com:5000"`, `"https://registry.example.com:5000" has a scheme; write the host[:port] alone, e.g. "registry.example.com:5000"`),
		},
		"address with a path": {
			provider: providerBlock{auth: []authBlock{{address: "registry.example.com/team", username: "ci", password: "s3cret"}}}.String(),
			want:     phrases("Invalid registry address", `"registry.example.com/team" has a path; write the host[:port] alone, e.g. "registry.example.com"`),
		},
		"address that is no host": {
			provider: providerBlock{auth: []authBlock{{address: "registry example", username: "ci", password: "s3cret"}}}.String(),
			want:     phrases("Invalid registry address", `"registry example" is not a valid host[:port]`),
		},
		"same registry twice": {
			provider: providerBlock{auth: []authBlock{
				{address: "docker.io", username: "a", password: "s3cret"},
				{address: "index.docker.io", username: "b", password: "s3cret"},
			}}.String(),
			want: phrases(`addresses "docker.io" and "index.docker.io" name the same registry`),
		},
		"insecure registry with a scheme": {
			provider: providerBlock{insecure: []string{"http://127.0.0.1:5000"}}.String(),
			want:     phrases("Invalid registry address", `insecure_registries`, `"http://127.0.0.1:5000" has a scheme; write the host[:port] alone, e.g. "127.0.0.1:5000"`),
		},
		"ca_pem without a certificate": {
			provider: providerBlock{caPEM: []byte("not a certificate")}.String(),
			want:     phrases("Invalid CA certificates", "ca_pem", `no PEM-encoded certificate found`),
		},
	} {
		t.Run(name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviders,
				Steps: []resource.TestStep{{
					Config:      tc.provider + mirrorResource(source, target),
					PlanOnly:    true,
					ExpectError: tc.want,
				}},
			})
		})
	}
}

// passwordFromResource is a configuration whose registry_auth password is the output of a
// terraform_data resource, so Terraform knows it only after apply on the first run.
func passwordFromResource(src *registrytest.Registry, insecure []string, body string) string {
	return fmt.Sprintf("resource \"terraform_data\" \"password\" {\n  input = %q\n}\n", src.Password) +
		providerBlock{insecure: insecure, caPEM: src.CAPEM, auth: []authBlock{
			{address: src.Host, username: src.Username, passwordExpr: "terraform_data.password.output"},
		}}.String() + body
}

// TestAccProviderAuth_passwordKnownOnlyAfterApply: a provider configuration that Terraform
// knows only after apply plans the mirror with unknown computed values and copies at apply
// (it used to fail with "username is set but password is empty").
func TestAccProviderAuth_passwordKnownOnlyAfterApply(t *testing.T) {
	t.Parallel()
	src := startAuthTLS(t, "src-user", "src-Pa55-later")
	dst := registrytest.Start(t)
	desc := registrytest.PushIndex(t, src.Ref("app/web:1.0"), authImages, src.RemoteOptions()...)
	config := passwordFromResource(src, []string{dst.Host},
		mirrorResource(src.Ref("app/web:1.0"), dst.Ref("mirror/web")))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(mirrorAddr, plancheck.ResourceActionCreate),
					plancheck.ExpectUnknownValue(mirrorAddr, tfjsonpath.New("digest")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("digest"), knownvalue.StringExact(desc.Digest.String())),
				},
			},
			{
				Config:           config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

// TestAccProviderAuth_dataSourceNeedsAKnownConfiguration: a data source cannot be read with a
// configuration known only after apply; the error says which arguments and what to do.
func TestAccProviderAuth_dataSourceNeedsAKnownConfiguration(t *testing.T) {
	t.Parallel()
	src := startAuthTLS(t, "src-user", "src-Pa55-later")
	registrytest.PushIndex(t, src.Ref("app/web:1.0"), authImages, src.RemoteOptions()...)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: passwordFromResource(src, nil, fmt.Sprintf("data \"zarf_image_index\" \"test\" {\n  ref = %q\n}\n", src.Ref("app/web:1.0"))),
			ExpectError: phrases(
				"depends on values known only after apply (registry_auth[0].password)",
				"terraform apply -target=",
			),
		}},
	})
}

// TestAccProviderAuth_dynamicRegistryAuthKnownOnlyAfterApply: registry_auth blocks generated
// by a dynamic block over a value known only after apply are one unknown list at plan time
// (it used to fail with "Value Conversion Error ... Path: registry_auth").
func TestAccProviderAuth_dynamicRegistryAuthKnownOnlyAfterApply(t *testing.T) {
	t.Parallel()
	src := startAuthTLS(t, "src-user", "src-Pa55-dynamic")
	dst := registrytest.Start(t)
	desc := registrytest.PushIndex(t, src.Ref("app/web:1.0"), authImages, src.RemoteOptions()...)
	config := fmt.Sprintf(`
resource "terraform_data" "credentials" {
  input = [{ address = %q, username = %q, password = %q }]
}
provider "zarf" {
  insecure_registries = [%q]
  ca_pem              = %q
  dynamic "registry_auth" {
    for_each = terraform_data.credentials.output
    content {
      address  = registry_auth.value.address
      username = registry_auth.value.username
      password = registry_auth.value.password
    }
  }
}
resource "zarf_image_mirror" "test" {
  source = %q
  target = %q
}
`, src.Host, src.Username, src.Password, dst.Host, src.CAPEM, src.Ref("app/web:1.0"), dst.Ref("mirror/web"))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectUnknownValue(mirrorAddr, tfjsonpath.New("digest")),
			}},
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(mirrorAddr, tfjsonpath.New("digest"), knownvalue.StringExact(desc.Digest.String())),
			},
		}},
	})
}
