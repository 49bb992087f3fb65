package mirror

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
)

// Tags lists the tags of repository, in the order of the place that holds them: a registry
// repository (host/name, Docker Hub short names as Docker writes them; every page of its tag
// list, no manifest requests) or an OCI image layout, oci-layout://<path>, whose tags are the
// ref names of its index.json entries.
func (e *Engine) Tags(ctx context.Context, repository string) ([]string, error) {
	ref, err := e.parseImageRef("repository", repository, "")
	if err != nil {
		return nil, err
	}
	if l := e.layoutOf(ref.Repo); l != nil {
		if ref.Tag != "" || ref.Digest != "" {
			return nil, &ReferenceError{Attribute: "repository", Value: repository,
				Reason: "it names an image in the layout, but a repository is the whole layout: write oci-layout://" + ref.Layout.Path}
		}
		return l.tags()
	}
	if ref.Tag != "" || ref.Digest != "" {
		return nil, &ReferenceError{Attribute: "repository", Value: repository,
			Reason: "it has a tag or a digest, but a repository has neither: write " + ref.Repo.Name()}
	}
	tags, err := e.client.ListTags(ctx, ref.Repo)
	if err != nil {
		return nil, e.explain("listing the tags of", ref.Repo, err)
	}
	return tags, nil
}

// tags lists the ref names (org.opencontainers.image.ref.name) of index.json's entries, each
// once, in index.json order: a layout's tags. Entries without one (referrers, untagged roots)
// have no tag.
func (l *layoutStore) tags() ([]string, error) {
	idx, err := l.readIndex()
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s is not an OCI image layout (it has no index.json): %w", l.display, errNotFound)
	}
	if err != nil {
		return nil, err
	}
	names := []string{}
	seen := map[string]bool{}
	for _, d := range idx.Manifests {
		if n := d.Annotations[AnnotationRefName]; n != "" && !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	return names, nil
}
