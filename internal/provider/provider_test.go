package provider

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
)

// testProviders serves the provider in-process to the real terraform CLI.
var testProviders = map[string]func() (tfprotov6.ProviderServer, error){
	"zarf": providerserver.NewProtocol6WithError(New("test")()),
}

// providerBlock writes a provider "zarf" block: the one way acceptance tests configure the
// provider.
type providerBlock struct {
	insecure   []string
	caPEM      []byte
	maxRetries *int
	auth       []authBlock
	// trustedRootFile is a file whose content is sigstore_trusted_root.
	trustedRootFile string
}

// authBlock is one registry_auth block. With passwordExpr set, the password is that HCL
// expression (var.x, a resource attribute) instead of the literal password.
type authBlock struct{ address, username, password, passwordExpr string }

func (p providerBlock) String() string {
	var b strings.Builder
	b.WriteString("provider \"zarf\" {\n")
	if len(p.insecure) > 0 {
		quoted := make([]string, len(p.insecure))
		for i, h := range p.insecure {
			quoted[i] = fmt.Sprintf("%q", h)
		}
		fmt.Fprintf(&b, "  insecure_registries = [%s]\n", strings.Join(quoted, ", "))
	}
	if p.caPEM != nil {
		fmt.Fprintf(&b, "  ca_pem = %q\n", p.caPEM) // PEM is ASCII: Go and HCL escapes agree
	}
	if p.maxRetries != nil {
		fmt.Fprintf(&b, "  max_retries = %d\n", *p.maxRetries)
	}
	if p.trustedRootFile != "" {
		fmt.Fprintf(&b, "  sigstore_trusted_root = file(%q)\n", p.trustedRootFile)
	}
	for _, a := range p.auth {
		password := fmt.Sprintf("%q", a.password)
		if a.passwordExpr != "" {
			password = a.passwordExpr
		}
		fmt.Fprintf(&b, "  registry_auth {\n    address  = %q\n    username = %q\n    password = %s\n  }\n",
			a.address, a.username, password)
	}
	b.WriteString("}\n")
	return b.String()
}

// providerConfig is a provider block that reaches the given plain-HTTP test registries.
func providerConfig(regs ...*registrytest.Registry) string {
	hosts := make([]string, len(regs))
	for i, r := range regs {
		hosts[i] = r.Host
	}
	return hostsConfig(hosts...)
}

// hostsConfig is a provider block that reaches the given hosts (registries or proxies) over
// plain HTTP.
func hostsConfig(hosts ...string) string { return providerBlock{insecure: hosts}.String() }

// mirrorResource is a zarf_image_mirror "test" from source to target.
func mirrorResource(source, target string) string {
	return fmt.Sprintf("resource \"zarf_image_mirror\" \"test\" {\n  source = %q\n  target = %q\n}\n", source, target)
}

// mirrorWith is the provider block plus one zarf_image_mirror "test" from source to target.
func mirrorWith(p providerBlock, source, target string) string {
	return p.String() + mirrorResource(source, target)
}

// mirrorConfig is a provider block plus one zarf_image_mirror "test" with the given body.
func mirrorConfig(body string, regs ...*registrytest.Registry) string {
	return providerConfig(regs...) + "resource \"zarf_image_mirror\" \"test\" {\n" + body + "\n}\n"
}

// testImages are four platforms with a layer each and a shared base layer for two of them.
var testImages = []registrytest.ImageSpec{
	{Platform: "linux/amd64", Layers: []int64{2048, 1024}, Seed: 1},
	{Platform: "linux/arm64/v8", Layers: []int64{3000}, Seed: 2},
	{Platform: "linux/arm/v7", Layers: []int64{1500}, Seed: 3},
	{Platform: "linux/s390x", Layers: []int64{1700}, Seed: 4},
}

// pushHandWrittenIndex pushes testImages (with BuildKit attestations in an OCI index) and an
// index over them whose bytes no library would write (registrytest.HandIndex: odd key order,
// white space, unknown fields). It returns the index bytes.
func pushHandWrittenIndex(t *testing.T, reg *registrytest.Registry, ref string, mediaType types.MediaType) []byte {
	t.Helper()
	repo, tag, _ := strings.Cut(ref, ":")
	imageType := types.OCIManifestSchema1
	if mediaType == types.DockerManifestList {
		imageType = types.DockerManifestSchema2
	}
	w := registrytest.At(t, reg.Ref(repo))
	images := w.Images(testImages, imageType)
	var entries []registrytest.Entry
	for _, d := range images {
		entries = append(entries, registrytest.DescriptorEntry(d))
	}
	if mediaType == types.OCIImageIndex {
		for _, d := range images {
			entries = append(entries, registrytest.DescriptorEntry(w.Attestation(d)))
		}
	}
	raw := registrytest.HandIndex(mediaType, entries...)
	w.Raw(tag, mediaType, raw)
	return raw
}

// checkSameBytes fails unless the target reference serves exactly want, with mediaType.
func checkSameBytes(t *testing.T, ref string, want []byte, mediaType types.MediaType) func(*terraform.State) error {
	return func(*terraform.State) error {
		got, mt := registrytest.Fetch(t, ref)
		if !bytes.Equal(got, want) {
			return fmt.Errorf("%s serves other bytes than the source:\n got: %s\nwant: %s", ref, got, want)
		}
		if mt != mediaType {
			return fmt.Errorf("%s has media type %s, want %s", ref, mt, mediaType)
		}
		return nil
	}
}

func sha256Of(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// platformIs checks one element of the manifests attribute by its platform.
func platformIs(platform string) knownvalue.Check {
	return knownvalue.ObjectPartial(map[string]knownvalue.Check{"platform": knownvalue.StringExact(platform)})
}

// checkChildren checks which platforms of the source index exist at the target repository.
func checkChildren(t *testing.T, source, targetRepo string, want map[string]bool) func(*terraform.State) error {
	return func(*terraform.State) error {
		raw, _ := registrytest.Fetch(t, source)
		var idx v1.IndexManifest
		if err := json.Unmarshal(raw, &idx); err != nil {
			return err
		}
		for _, d := range idx.Manifests {
			if d.Platform == nil || d.Platform.OS == "unknown" {
				continue
			}
			p := d.Platform.OS + "/" + d.Platform.Architecture
			if d.Platform.Variant != "" {
				p += "/" + d.Platform.Variant
			}
			if got := registrytest.Exists(t, targetRepo+"@"+d.Digest.String()); got != want[p] {
				return fmt.Errorf("%s (%s) exists at the target = %v, want %v", p, d.Digest, got, want[p])
			}
		}
		return nil
	}
}

// checkFilteredIndex checks that ref is a new index listing only linux/arm/v7 and its
// attestation, whose children are present.
func checkFilteredIndex(t *testing.T, ref, sourceDigest string) func(*terraform.State) error {
	return func(*terraform.State) error {
		raw, _ := registrytest.Fetch(t, ref)
		if sha256Of(raw) == sourceDigest {
			return fmt.Errorf("filter mode pushed the source index unchanged")
		}
		var idx v1.IndexManifest
		if err := json.Unmarshal(raw, &idx); err != nil {
			return err
		}
		if len(idx.Manifests) != 2 || idx.Manifests[0].Platform.Architecture != "arm" ||
			idx.Manifests[1].Annotations["vnd.docker.reference.digest"] != idx.Manifests[0].Digest.String() {
			return fmt.Errorf("filtered index lists %+v, want linux/arm/v7 and its attestation", idx.Manifests)
		}
		if idx.Annotations[registrytest.IndexCreatedAnnotation] == "" {
			return fmt.Errorf("filtered index lost the source's annotations: %v", idx.Annotations)
		}
		repo := ref[:strings.LastIndex(ref, ":")]
		for _, d := range idx.Manifests {
			if !registrytest.Exists(t, repo+"@"+d.Digest.String()) {
				return fmt.Errorf("%s is missing at the target", d.Digest)
			}
		}
		return nil
	}
}
