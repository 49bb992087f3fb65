// Package zarf reproduces the parts of Zarf's behaviour that the provider needs to know about
// without importing Zarf itself. It has no Terraform imports.
package zarf

import (
	"fmt"
	"hash/crc32"
	"regexp"
	"strings"
	"unicode"
)

// Argument names used in ArgumentError.Argument.
const (
	ArgRegistry = "registry"
	ArgImage    = "image"
)

// ArgumentError reports which input of MirrorRef was unusable and why.
type ArgumentError struct {
	// Argument is ArgRegistry or ArgImage.
	Argument string
	// Value is the offending input, verbatim.
	Value string
	// Reason says what is wrong with Value.
	Reason string
}

func (e *ArgumentError) Error() string {
	return fmt.Sprintf("invalid %s %q: %s", e.Argument, e.Value, e.Reason)
}

// MirrorRef returns the reference that Zarf's agent rewrites image to when the Zarf registry is
// at registry. It behaves like Zarf's transform.ImageTransformHost:
//
//   - image is parsed the way Docker does (distribution/reference ParseAnyReference semantics):
//     "nginx" is host "docker.io", path "library/nginx", tag "latest";
//   - if registry starts with the image's host, image is returned unchanged (verbatim);
//   - if image has a digest: "<registry>/<path>@<digest>" (a tag next to the digest is dropped);
//   - otherwise "<registry>/<path>:<tag>-zarf-<crc32>", where <crc32> is the IEEE CRC-32, in
//     unsigned decimal, of the normalised name without tag or digest ("docker.io/library/nginx").
//
// Unlike Zarf, MirrorRef also validates registry (host[:port] with an optional path), rejects
// a "scheme://" prefix on image, and returns an error instead of a reference that would not parse
// (a tag too long to carry the "-zarf-<crc32>" suffix, or a name longer than 255 characters).
// Errors are *ArgumentError values naming the argument at fault.
func MirrorRef(registry, image string) (string, error) {
	if err := validateRegistry(registry); err != nil {
		return "", err
	}

	img, reason := parseImage(image)
	if reason != "" {
		return "", &ArgumentError{Argument: ArgImage, Value: image, Reason: reason}
	}

	// Zarf: "check if image has already been transformed". Note the direction: it is the
	// registry that must start with the image's host, and the original string is returned.
	if strings.HasPrefix(registry, img.Host) {
		return image, nil
	}

	var out string
	if img.Digest != "" {
		out = fmt.Sprintf("%s/%s@%s", registry, img.Path, img.Digest)
	} else {
		tag := fmt.Sprintf("%s-zarf-%d", img.Tag, crc32.ChecksumIEEE([]byte(img.Name)))
		if !anchoredTagRegexp.MatchString(tag) {
			return "", &ArgumentError{Argument: ArgImage, Value: image, Reason: fmt.Sprintf(
				"tag %q is too long: with Zarf's suffix it becomes %q, longer than the 128 characters a tag may have",
				img.Tag, tag)}
		}
		out = fmt.Sprintf("%s/%s:%s", registry, img.Path, tag)
	}

	// The pieces are valid on their own; make sure the combination is too (the repository path
	// gets the registry's path in front and has a length limit).
	if _, reason := parseImage(out); reason != "" {
		return "", &ArgumentError{Argument: ArgRegistry, Value: registry, Reason: fmt.Sprintf(
			"the mirrored reference %q would be invalid: %s", out, reason)}
	}
	return out, nil
}

// image is a parsed reference, with the fields Zarf's transform.Image uses.
type image struct {
	Host   string // "docker.io"; empty when the first component is no valid host (Zarf quirk)
	Path   string // "library/nginx"
	Name   string // Host + "/" + Path, or Path when Host is empty
	Tag    string // "latest" when neither tag nor digest is given
	Digest string // "sha256:…" or empty
}

// The reference grammar of github.com/distribution/reference (the one Docker and Zarf use).
const (
	alphanumeric        = `[a-z0-9]+`
	separator           = `(?:[._]|__|[-]+)`
	pathComponent       = alphanumeric + `(?:` + separator + alphanumeric + `)*`
	remoteName          = pathComponent + `(?:/` + pathComponent + `)*`
	domainNameComponent = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
	domainName          = domainNameComponent + `(?:\.` + domainNameComponent + `)*`
	ipv6address         = `\[(?:[a-fA-F0-9:]+)\]`
	domainAndPort       = `(?:` + domainName + `|` + ipv6address + `)(?::[0-9]+)?`
	tagPat              = `[\w][\w.-]{0,127}`
	digestPat           = `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][[:xdigit:]]{32,}`

	// Limits and defaults of distribution/reference's normalisation.
	maxPathLength      = 255
	defaultDomain      = "docker.io"
	legacyDefaultHost  = "index.docker.io"
	officialRepoPrefix = "library/"
	localhost          = "localhost"
	defaultTag         = "latest"
)

var (
	referenceRegexp = regexp.MustCompile(`^((?:` + domainAndPort + `/)?` + remoteName + `)` +
		`(?::(` + tagPat + `))?(?:@(` + digestPat + `))?$`)
	anchoredNameRegexp       = regexp.MustCompile(`^(?:(` + domainAndPort + `)/)?(` + remoteName + `)$`)
	anchoredRegistryRegexp   = regexp.MustCompile(`^` + domainAndPort + `(?:/` + remoteName + `)?$`)
	anchoredTagRegexp        = regexp.MustCompile(`^` + tagPat + `$`)
	anchoredDigestRegexp     = regexp.MustCompile(`^` + digestPat + `$`)
	anchoredIdentifierRegexp = regexp.MustCompile(`^[a-f0-9]{64}$`)

	// Digest algorithms that go-digest knows (and Zarf therefore accepts), with their hex length.
	digestHexLength = map[string]int{"sha256": 64, "sha384": 96, "sha512": 128}
	lowerHexRegexp  = regexp.MustCompile(`^[a-f0-9]+$`)
)

func validateRegistry(registry string) error {
	fail := func(reason string) error {
		return &ArgumentError{Argument: ArgRegistry, Value: registry, Reason: reason}
	}
	switch {
	case registry == "":
		return fail("must not be empty")
	case strings.Contains(registry, "://"):
		return fail(`must be a registry address such as "127.0.0.1:31999", without a scheme such as https://`)
	case strings.IndexFunc(registry, unicode.IsSpace) >= 0:
		return fail("must not contain whitespace")
	case strings.HasSuffix(registry, "/"):
		return fail(`must not end with "/"`)
	case !anchoredRegistryRegexp.MatchString(registry):
		return fail(`must be a registry host with an optional port and path, such as "127.0.0.1:31999" or ` +
			`"registry.example.com/zarf" (path components in lowercase)`)
	}
	return nil
}

// parseImage parses s as distribution/reference's ParseAnyReference does and returns the parts
// Zarf's ParseImageRef derives from it. On failure, it returns a reason instead.
func parseImage(s string) (image, string) {
	if s == "" {
		return image{}, "must not be empty"
	}
	// ParseAnyReference treats a bare identifier or a bare digest as a digest reference, which
	// has no name, and Zarf then fails with "unable to parse image name".
	if anchoredIdentifierRegexp.MatchString(s) {
		return image{}, "is a 64-character hex identifier, not an image name"
	}
	if validateDigest(s) == "" {
		return image{}, "is a digest without an image name; write it as name@" + s
	}

	domain, remainder := splitDockerDomain(s)
	remote := remainder
	if i := strings.IndexByte(remainder, ':'); i >= 0 {
		remote = remainder[:i]
	}
	if strings.ToLower(remote) != remote {
		return image{}, fmt.Sprintf("repository name %q must be lowercase", remote)
	}

	m := referenceRegexp.FindStringSubmatch(domain + "/" + remainder)
	if m == nil {
		return image{}, diagnose(s)
	}
	nm := anchoredNameRegexp.FindStringSubmatch(m[1])
	out := image{Host: nm[1], Path: nm[2], Tag: m[2]}
	if len(out.Path) > maxPathLength {
		return image{}, fmt.Sprintf("repository path must not be longer than %d characters", maxPathLength)
	}
	if m[3] != "" {
		if reason := validateDigest(m[3]); reason != "" {
			return image{}, fmt.Sprintf("digest %q %s", m[3], reason)
		}
		out.Digest = m[3]
	}
	out.Name = out.Path
	if out.Host != "" {
		out.Name = out.Host + "/" + out.Path
	}
	if out.Tag == "" && out.Digest == "" {
		out.Tag = defaultTag
	}
	return out, ""
}

// splitDockerDomain splits name into a registry host and the rest, the way Docker does: the
// first component is a host only if it is "localhost", contains "." or ":", or has uppercase
// letters; otherwise the host is docker.io, where single-component names get "library/".
func splitDockerDomain(name string) (domain, remainder string) {
	first, rest, ok := strings.Cut(name, "/")
	switch {
	case !ok:
		return defaultDomain, officialRepoPrefix + name
	case first == localhost:
		domain, remainder = first, rest
	case first == legacyDefaultHost:
		domain, remainder = defaultDomain, rest
	case strings.ContainsAny(first, ".:"):
		domain, remainder = first, rest
	case strings.ToLower(first) != first:
		domain, remainder = first, rest
	default:
		domain, remainder = defaultDomain, name
	}
	if domain == defaultDomain && !strings.Contains(remainder, "/") {
		remainder = officialRepoPrefix + remainder
	}
	return domain, remainder
}

// validateDigest returns "" if d is a digest go-digest accepts (a known algorithm with the
// right number of lowercase hex digits), and otherwise what is wrong with it.
func validateDigest(d string) string {
	alg, hex, ok := strings.Cut(d, ":")
	if !ok || alg == "" || hex == "" {
		return `must have the form "algorithm:hex"`
	}
	n, known := digestHexLength[alg]
	switch {
	case !known:
		return fmt.Sprintf("uses the unsupported algorithm %q (use sha256, sha384 or sha512)", alg)
	case len(hex) != n:
		return fmt.Sprintf("must have %d hex digits for %s, not %d", n, alg, len(hex))
	case !lowerHexRegexp.MatchString(hex):
		return "must be lowercase hex"
	}
	return ""
}

// diagnose explains why s does not match the reference grammar, as precisely as it can.
func diagnose(s string) string {
	if strings.Contains(s, "://") {
		return `must be an image reference such as "ghcr.io/org/app:1.0", not a URL: remove the scheme (oci://, https://)`
	}
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return "must not contain whitespace or control characters"
	}
	name := s
	if i := strings.IndexByte(s, '@'); i >= 0 {
		name = s[:i]
		if d := s[i+1:]; !anchoredDigestRegexp.MatchString(d) {
			return fmt.Sprintf(`digest %q must have the form "algorithm:hex" with at least 32 hex digits`, d)
		}
	}
	last := name[strings.LastIndexByte(name, '/')+1:]
	if i := strings.IndexByte(last, ':'); i >= 0 {
		if tag := last[i+1:]; !anchoredTagRegexp.MatchString(tag) {
			return fmt.Sprintf("tag %q is invalid: a tag is 1 to 128 letters, digits, '_', '.' or '-', "+
				"not starting with '.' or '-'", tag)
		}
	}
	return "is not a valid image reference: expected [host[:port]/]path[:tag][@digest], where the path " +
		"is lowercase letters and digits separated by '/', '.', '_', '__' or '-'"
}
