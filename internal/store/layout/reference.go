package layout

import (
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// Prefix starts a reference to an OCI image layout directory.
const Prefix = "oci-layout://"

// Scheme opens the layouts that references oci-layout://<path>[:<ref>][@<digest>] name (the form
// docker buildx uses). The path contains neither ':' nor '@'; what follows the first ':' is the
// ref, which may itself be an image reference with colons; a Windows drive letter is part of
// the path.
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
	path, refName, digest, err := parse(ref, runtime.GOOS)
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
		Store: s, Repository: s.String(), Place: Prefix + s.dir, Name: refName, Digest: digest, TargetTag: tagOf(refName),
		Traits: store.Traits{RefOmitsName: true, KeepsUnnamed: true, AcceptsSparse: true},
	}, nil
}

// parse splits oci-layout://<path>[:<ref>|@<digest>] as the operating system goos reads paths. On
// Windows a drive letter ("C:\" or "C:/") belongs to the path: the ref follows the next colon;
// elsewhere such a path is refused.
func parse(s, goos string) (path, ref, digest string, err error) {
	rest := strings.TrimPrefix(s, Prefix)
	skip := 0
	if hasDriveLetter(rest) {
		if goos != "windows" {
			return "", "", "", fmt.Errorf("the layout path %q starts with a Windows drive letter, but this provider runs on %s, "+
				"where it would be a relative directory named %q; write a path of this machine", rest, goos, rest[:2])
		}
		skip = len("C:")
	}
	path = rest
	if i := strings.IndexAny(rest[skip:], ":@"); i >= 0 {
		i += skip
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

// hasDriveLetter reports whether a path starts with a Windows drive letter and a separator.
func hasDriveLetter(path string) bool {
	if len(path) < 3 || path[1] != ':' || (path[2] != '/' && path[2] != '\\') {
		return false
	}
	c := path[0] | 0x20 // lower case
	return c >= 'a' && c <= 'z'
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
