package memory

import (
	"errors"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// Prefix starts the references of in-memory repositories.
const Prefix = "memory://"

var _ store.Scheme = (*Registry)(nil)

// Prefix is memory://<registry>/: each Registry is a scheme of its own.
func (r *Registry) Prefix() string { return Prefix + r.name + "/" }

// Syntax shows how references to the registry's repositories are written.
func (r *Registry) Syntax() string {
	return r.Prefix() + "<repository>[:<tag>][@sha256:<digest>]"
}

// Open parses memory://<registry>/<repository>[:<tag>][@<digest>]. A source without tag or
// digest names the tag "latest", as for a registry.
func (r *Registry) Open(ref string, role store.Role) (store.Location, error) {
	rest := strings.TrimPrefix(ref, r.Prefix())
	base, digest, pinned := strings.Cut(rest, "@")
	repo, tag := base, ""
	if i := strings.LastIndex(base, ":"); i > strings.LastIndex(base, "/") {
		repo, tag = base[:i], base[i+1:]
	}
	if repo == "" {
		return store.Location{}, errors.New("the repository is empty")
	}
	if pinned {
		if _, err := v1.NewHash(digest); err != nil {
			return store.Location{}, fmt.Errorf("digest %q: %w", digest, err)
		}
	}
	if tag == "" && !pinned && role == store.RoleSource {
		tag = "latest"
	}
	s := r.Repository(repo)
	return store.Location{Store: s, Repository: s.String(), Name: tag, Digest: digest, TargetTag: tag,
		BaseName: strings.TrimPrefix(ref, Prefix)}, nil
}
