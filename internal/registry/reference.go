package registry

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

var _ store.Scheme = (*Client)(nil)

// Prefix is empty: registry references have no scheme.
func (c *Client) Prefix() string { return "" }

// Syntax shows how registry references are written.
func (c *Client) Syntax() string { return "host[:port]/repository[:tag][@sha256:digest]" }

// Open parses repo, repo:tag, repo@digest or repo:tag@digest as Docker does (Docker Hub short
// names normalise: "nginx" is index.docker.io/library/nginx) and returns the repository as a
// store. A source without tag or digest names the tag "latest"; a target without tag takes the
// source's.
func (c *Client) Open(ref string, role store.Role) (store.Location, error) {
	base, digest, hasDigest := strings.Cut(ref, "@")
	if hasDigest {
		h, err := v1.NewHash(digest)
		if err != nil {
			return store.Location{}, fmt.Errorf("digest %q is not sha256:<64 hex digits>", digest)
		}
		if h.Algorithm != "sha256" {
			return store.Location{}, fmt.Errorf("digest algorithm %q is not supported, only sha256", h.Algorithm)
		}
		digest = h.String()
	}
	path, tag := splitTag(base)
	if tag == "" && len(path) < len(base) {
		return store.Location{}, fmt.Errorf("it ends with %q but has no tag after it; remove the colon or write the tag", ":")
	}
	if tag != "" && !store.IsTag(tag) {
		return store.Location{}, fmt.Errorf("tag %q is not valid: a tag has up to 128 letters, digits, '_', '.' and '-', and starts with a letter, digit or '_'", tag)
	}
	if tag == "" && !hasDigest && role == store.RoleSource {
		tag = "latest"
	}
	parsed, err := c.ParseReference(path)
	if err != nil {
		return store.Location{}, explainRepository(path, err)
	}
	repo := parsed.Context()
	if tag != "" {
		if _, err := name.NewTag(repo.Name()+":"+tag, name.StrictValidation); err != nil {
			return store.Location{}, fmt.Errorf("tag %q is not valid: %w", tag, err)
		}
	}
	loc := store.Location{
		Store: c.Repository(repo), Repository: repo.Name(), Place: strings.ToLower(repo.RegistryStr()) + "/" + repo.RepositoryStr(),
		Name: tag, Digest: digest, TargetTag: tag,
	}
	loc.BaseName = baseName(loc, repo)
	return loc, nil
}

// explainRepository says what is wrong with a repository that did not parse (the reference
// parser only says that it could not), with the fix for the most common case: upper case.
func explainRepository(repo string, err error) error {
	if _, rerr := name.NewRepository(repo); rerr != nil {
		err = rerr
	}
	host, path, found := strings.Cut(repo, "/")
	if !found || !strings.ContainsAny(host, ".:") && host != "localhost" {
		host, path = "", repo
	}
	if lower := strings.ToLower(path); lower != path {
		if host != "" {
			lower = host + "/" + lower
		}
		if _, lerr := name.NewRepository(lower); lerr == nil {
			return fmt.Errorf("%w; repository names are lower case: write %s", err, lower)
		}
	}
	return err
}

// splitTag splits "host:port/repo:tag" into "host:port/repo" and "tag": the tag is after the
// last colon of the last path component.
func splitTag(s string) (repo, tag string) {
	slash := strings.LastIndex(s, "/")
	colon := strings.LastIndex(s, ":")
	if colon > slash {
		return s[:colon], s[colon+1:]
	}
	return s, ""
}

// baseName is the full reference as Zarf records it in org.opencontainers.image.base.name, Docker
// Hub written as docker.io.
func baseName(loc store.Location, repo name.Repository) string {
	if repo.RegistryStr() == name.DefaultRegistry {
		loc.Repository = "docker.io/" + repo.RepositoryStr()
	}
	return loc.String()
}
