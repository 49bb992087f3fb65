package zarfpackage

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// Prefix starts a reference to an image of a Zarf package archive.
const Prefix = "zarf-package://"

// archiveSuffixes end the path of a package archive in a reference: what follows is the image.
var archiveSuffixes = []string{".tar.zst", ".tar", splitSuffix}

// Scheme opens the images of Zarf package archives that references
// zarf-package://<archive>:<original image reference> and zarf-package://<archive>@sha256:<digest>
// name, through Cache: the archive is unpacked and verified on first use (once per archive
// digest), and its images are read from the unpacked images/ OCI image layout. The stores are
// read-only: a package is never a target.
type Scheme struct {
	// Cache is where archives are unpacked. When it is nil, NoCache says why there is none,
	// and reading a package fails with it.
	Cache   *Cache
	NoCache error
}

var _ store.Scheme = Scheme{}

// Prefix is zarf-package://.
func (Scheme) Prefix() string { return Prefix }

// Syntax shows how package references are written.
func (Scheme) Syntax() string {
	return Prefix + "<archive>:<original image reference> or " + Prefix + "<archive>@sha256:<digest> " +
		"(the archive ends with .tar.zst, .tar or .part000)"
}

// Open parses a package reference. It reads no file: the archive is opened on first use. A
// source must name an image; a reference parsed as a target opens a store that the engine
// refuses to write to.
func (s Scheme) Open(ref string, role store.Role) (store.Location, error) {
	archive, image, digest, err := parse(ref)
	if err != nil {
		return store.Location{}, err
	}
	if role == store.RoleSource && image == "" && digest == "" {
		return store.Location{}, fmt.Errorf("name the image in the package: %s%s:<original image reference> (one of the "+
			"images data.zarf_package lists) or %s%s@sha256:<digest>", Prefix, archive, Prefix, archive)
	}
	abs, err := filepath.Abs(archive)
	if err != nil {
		return store.Location{}, fmt.Errorf("archive path %q: %w", archive, err)
	}
	st := &Store{archive: archive, cache: s.Cache, noCache: s.NoCache}
	return store.Location{
		Store: st, Repository: st.String(), Place: Prefix + abs, Name: image, Digest: digest, TargetTag: tagOf(image),
		// A package keeps its images as an OCI image layout does: by entries, not by tags.
		Traits: store.Traits{RefOmitsName: true, KeepsUnnamed: true, AcceptsSparse: true},
	}, nil
}

// parse splits zarf-package://<archive>[:<image>|@<digest>]. Both the archive path and the
// image reference may contain ':' (a Windows drive, a registry port), so the archive ends at the
// first .tar.zst, .tar or .part000 followed by ':', '@' or the end of the reference.
func parse(ref string) (archive, image, digest string, err error) {
	rest := strings.TrimPrefix(ref, Prefix)
	end := archiveEnd(rest)
	if end < 0 {
		return "", "", "", fmt.Errorf("it names no Zarf package archive: the path must end with .tar.zst, .tar or .part000 "+
			"(of a split package), followed by :<original image reference> or @sha256:<digest>; write %s", Scheme{}.Syntax())
	}
	archive, rest = rest[:end], rest[end:]
	switch {
	case rest == "":
	case rest[0] == '@':
		h, err := v1.NewHash(rest[1:])
		if err != nil || h.Algorithm != "sha256" {
			return "", "", "", fmt.Errorf("digest %q is not sha256:<64 hex digits>", rest[1:])
		}
		digest = h.String()
	default: // ':'
		if image = rest[1:]; image == "" {
			return "", "", "", fmt.Errorf("it ends with %q but names no image after it; write %s", ":", Scheme{}.Syntax())
		}
		if _, err := name.ParseReference(image); err != nil {
			return "", "", "", fmt.Errorf("%q is not an image reference (the package's images are named as zarf.yaml lists them, "+
				"e.g. docker.io/library/nginx:1.27): %w", image, err)
		}
	}
	return archive, image, digest, nil
}

// archiveEnd is the index in s where the archive path ends, or -1.
func archiveEnd(s string) int {
	for i := range len(s) {
		for _, suffix := range archiveSuffixes {
			end := i + len(suffix)
			if strings.HasPrefix(s[i:], suffix) && (end == len(s) || s[end] == ':' || s[end] == '@') {
				return end
			}
		}
	}
	return -1
}

// tagOf is the tag a registry target naming none takes from an image of a package: the tag of
// its original reference ("latest" when it names none, as Zarf pulls it), none when the reference
// pins a digest.
func tagOf(image string) string {
	t, err := name.NewTag(image)
	if err != nil {
		return ""
	}
	return t.TagStr()
}
