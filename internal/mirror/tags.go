package mirror

import (
	"context"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// Tags lists the tags of repository, a reference to a whole place (no tag, ref or digest), in
// the order of the store: a registry repository's (every page of its tag list, no manifest
// requests), an OCI image layout's ref names (in index.json order, each once).
func (e *Engine) Tags(ctx context.Context, repository string) ([]string, error) {
	loc, err := e.open(repository, store.RoleRepository)
	if err != nil {
		return nil, err
	}
	if loc.Name != "" || loc.Digest != "" {
		return nil, &ReferenceError{Role: store.RoleRepository, Value: repository,
			Reason: "it names an image, but a repository names none: write " + loc.Repository}
	}
	return loc.Store.Tags(ctx)
}
