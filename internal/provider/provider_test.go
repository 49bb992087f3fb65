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
func hostsConfig(hosts ...string) string {
	quoted := make([]string, len(hosts))
	for i, h := range hosts {
		quoted[i] = fmt.Sprintf("%q", h)
	}
	return fmt.Sprintf("provider \"zarf\" {\n  insecure_registries = [%s]\n}\n", strings.Join(quoted, ", "))
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

// pushHandWrittenIndex pushes testImages (with BuildKit attestations) and an index over them
// whose bytes no library would write: odd key order, white space, unknown fields. It returns
// the index bytes.
func pushHandWrittenIndex(t *testing.T, reg *registrytest.Registry, ref string, mediaType types.MediaType) []byte {
	t.Helper()
	repo, _, _ := strings.Cut(ref, ":")
	imageType := types.OCIManifestSchema1
	if mediaType == types.DockerManifestList {
		imageType = types.DockerManifestSchema2
	}
	images := registrytest.PushImages(t, reg.Ref(repo), testImages, imageType)
	var entries []string
	for _, d := range images {
		p := d.Platform
		variant := ""
		if p.Variant != "" {
			variant = fmt.Sprintf(`, "variant": %q`, p.Variant)
		}
		entries = append(entries, fmt.Sprintf("    {\"platform\": {\"os\": %q,  \"architecture\": %q%s},\n     \"size\": %d, \"digest\": %q, \"mediaType\": %q, \"x-vendor-field\": [1, 2]}",
			p.OS, p.Architecture, variant, d.Size, d.Digest, d.MediaType))
	}
	if mediaType == types.OCIImageIndex {
		for _, d := range images {
			a := registrytest.PushAttestation(t, reg.Ref(repo), d)
			entries = append(entries, fmt.Sprintf("    {\"mediaType\": %q, \"digest\": %q, \"size\": %d, \"annotations\": {%q: %q, %q: %q}, \"platform\": {\"architecture\": \"unknown\", \"os\": \"unknown\"}}",
				a.MediaType, a.Digest, a.Size, registrytest.AnnotationReferenceType, registrytest.AttestationManifest,
				registrytest.AnnotationReferenceDigest, d.Digest))
		}
	}
	raw := []byte(fmt.Sprintf("{\n  \"manifests\": [\n%s\n  ],\n  \"mediaType\": %q,\n\t\"schemaVersion\": 2,\n  \"annotations\": {\"z\": \"last\", \"a\": \"first\"}\n}\n",
		strings.Join(entries, ",\n"), mediaType))
	registrytest.PushRaw(t, reg.Ref(ref), mediaType, raw)
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
		if idx.Annotations["z"] != "last" {
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
