package mirror

import (
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Platform is an os/arch[/variant] selector or an image's platform.
type Platform struct {
	OS, Architecture, Variant string
}

// ParsePlatform parses "os/arch" or "os/arch/variant".
func ParsePlatform(s string) (Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return Platform{}, fmt.Errorf("platform %q is not os/arch or os/arch/variant (for example linux/amd64 or linux/arm/v7)", s)
	}
	for _, p := range parts {
		if p == "" || strings.TrimSpace(p) != p || strings.ContainsAny(p, " \t:@") {
			return Platform{}, fmt.Errorf("platform %q has an empty or malformed part; write os/arch or os/arch/variant (for example linux/amd64 or linux/arm/v7)", s)
		}
	}
	p := Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

func platformOf(p *v1.Platform) Platform {
	if p == nil {
		return Platform{}
	}
	return Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}
}

// String formats the platform as os/arch[/variant]; empty for an unknown platform.
func (p Platform) String() string {
	if p.OS == "" && p.Architecture == "" {
		return ""
	}
	if p.Variant == "" {
		return p.OS + "/" + p.Architecture
	}
	return p.OS + "/" + p.Architecture + "/" + p.Variant
}

// Matches reports whether the selector p selects the image platform q. A selector without a
// variant matches every variant; arm64 without a variant and arm64/v8 are the same platform.
func (p Platform) Matches(q Platform) bool {
	if p.OS != q.OS || p.Architecture != q.Architecture {
		return false
	}
	if p.Variant == "" {
		return true
	}
	return normalVariant(p) == normalVariant(q)
}

func normalVariant(p Platform) string {
	if p.Architecture == "arm64" && p.Variant == "" {
		return "v8"
	}
	return p.Variant
}

// isKnown reports whether an image platform counts as a platform (attestation manifests are
// listed as unknown/unknown).
func (p Platform) isKnown() bool {
	return p.OS != "" && p.OS != "unknown" && p.Architecture != "" && p.Architecture != "unknown"
}
