package store

import (
	"encoding/json"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// CosignSuffixes are the suffixes of the tags under which cosign stores, for the manifest with
// digest sha256:<hex>, its signatures ("sha256-<hex>.sig"), attestations (".att") and SBOMs
// (".sbom").
var CosignSuffixes = []string{".sig", ".att", ".sbom"}

// FallbackTag is the tag under which a registry without the referrers API keeps the referrers of
// the manifest subject (an OCI image index): "sha256-<hex>". Cosign's tags add a suffix to it.
func FallbackTag(subject v1.Hash) string { return subject.Algorithm + "-" + subject.Hex }

// ParseFallbackTag returns the digest that a fallback tag "sha256-<hex>" stands for.
func ParseFallbackTag(tag string) (v1.Hash, bool) {
	hexPart, ok := strings.CutPrefix(tag, "sha256-")
	if !ok {
		return v1.Hash{}, false
	}
	h, err := v1.NewHash("sha256:" + hexPart)
	return h, err == nil
}

// ParseCosignTag returns the subject of a cosign tag "sha256-<hex><suffix>"; ok is false for any
// other name.
func ParseCosignTag(tag string) (subject v1.Hash, ok bool) {
	for _, s := range CosignSuffixes {
		if rest, found := strings.CutSuffix(tag, s); found {
			if h, isFallback := ParseFallbackTag(rest); isFallback {
				return h, true
			}
		}
	}
	return v1.Hash{}, false
}

// Subject returns the digest of a manifest's subject, if it has one.
func Subject(raw []byte) (v1.Hash, bool) {
	var m struct {
		Subject *v1.Descriptor `json:"subject"`
	}
	if json.Unmarshal(raw, &m) != nil || m.Subject == nil {
		return v1.Hash{}, false
	}
	return m.Subject.Digest, true
}

// ArtifactType is what the OCI referrers API reports as a manifest's artifact type: its
// artifactType, else its config media type.
func ArtifactType(raw []byte) string {
	var m struct {
		ArtifactType string `json:"artifactType"`
		Config       struct {
			MediaType string `json:"mediaType"`
		} `json:"config"`
	}
	if json.Unmarshal(raw, &m) != nil {
		return ""
	}
	if m.ArtifactType != "" {
		return m.ArtifactType
	}
	return m.Config.MediaType
}
