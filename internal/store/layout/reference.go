package layout

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// Prefix starts a reference to an OCI image layout directory.
const Prefix = "oci-layout://"

// Scheme opens the layouts that references oci-layout://<path>[:<ref>][@<digest>] name (the form
// docker buildx uses). The path contains neither ':' nor '@'; what follows the first ':' is the
// ref, which may itself be an image reference with colons.
type Scheme struct{}

var _ store.Scheme = Scheme{}

// Prefix is oci-layout://.
func (Scheme) Prefix() string { return Prefix }

// Syntax shows how layout references are written.
func (Scheme) Syntax() string {
	return Prefix + "<path>:<ref> or " + Prefix + "<path>@sha256:<digest>"
}

// Open parses a layout reference. A source must name a ref or a digest (a layout has no
// "latest"); a target without ref takes the tag of the source.
func (Scheme) Open(ref string, role store.Role) (store.Location, error) {
	path, refName, digest, err := parse(ref)
	if err != nil {
		return store.Location{}, err
	}
	if role == store.RoleSource && refName == "" && digest == "" {
		return store.Location{}, fmt.Errorf("name the image in the layout: %s%s:<ref> (a ref name or the original image reference) or %s%s@sha256:<digest>",
			Prefix, path, Prefix, path)
	}
	s, err := Open(path)
	if err != nil {
		return store.Location{}, err
	}
	return store.Location{
		Store: s, Repository: s.String(), Name: refName, Digest: digest, TargetTag: tagOf(refName),
		Traits: store.Traits{RefOmitsName: true, KeepsUnnamed: true, AcceptsSparse: true},
	}, nil
}

// parse splits oci-layout://<path>[:<ref>|@<digest>].
func parse(s string) (path, ref, digest string, err error) {
	rest := strings.TrimPrefix(s, Prefix)
	path = rest
	if i := strings.IndexAny(rest, ":@"); i >= 0 {
		path = rest[:i]
		if rest[i] == ':' {
			if ref = rest[i+1:]; ref == "" {
				return "", "", "", fmt.Errorf("it ends with %q but names no ref after it; write %s", ":", Scheme{}.Syntax())
			}
		} else {
			h, err := v1.NewHash(rest[i+1:])
			if err != nil || h.Algorithm != "sha256" {
				return "", "", "", fmt.Errorf("digest %q is not sha256:<64 hex digits>", rest[i+1:])
			}
			digest = h.String()
		}
	}
	if path == "" {
		return "", "", "", errors.New("the layout path is empty; write " + Scheme{}.Syntax())
	}
	if strings.ContainsFunc(ref, func(r rune) bool { return r < 0x20 || r == 0x7f || r == ' ' }) {
		return "", "", "", fmt.Errorf("ref %q contains white space or control characters", ref)
	}
	return path, ref, digest, nil
}

// tagOf is the tag a layout ref gives a registry target: the ref when it is a valid tag, the tag
// of the ref when it is an image reference, else none.
func tagOf(ref string) string {
	if ref == "" || store.IsTag(ref) {
		return ref
	}
	if t, err := name.NewTag(ref); err == nil && strings.Contains(ref, ":") {
		return t.TagStr()
	}
	return ""
}
