package mirror

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// tagPattern is a valid tag (OCI distribution specification).
var tagPattern = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)

// imageRef is a parsed image reference: a repository with an optional tag and digest.
type imageRef struct {
	Repo   name.Repository
	Tag    string // empty when the reference has no tag
	Digest string // empty when the reference has no digest
	// Layout is set for an OCI image layout (layout.go); Repo is then a synthetic repository.
	Layout *layoutRef
}

// parseImageRef parses repo, repo:tag, repo@digest or repo:tag@digest. Docker Hub short names
// normalise as Docker does. defaultTag is used when neither tag nor digest is given ("latest"
// for sources, "" for targets, whose tag then comes from the source).
func (e *Engine) parseImageRef(attr, s, defaultTag string) (imageRef, error) {
	return parseImageRef(e.client.ParseReference, attr, s, defaultTag)
}

// parseImageRef is Engine.parseImageRef with the registry part parsed by parse. It makes no
// request and keeps nothing: ValidateReference runs it without an Engine.
func parseImageRef(parse func(string) (name.Reference, error), attr, s, defaultTag string) (imageRef, error) {
	bad := func(format string, args ...any) (imageRef, error) {
		return imageRef{}, &ReferenceError{Attribute: attr, Value: s, Reason: fmt.Sprintf(format, args...)}
	}
	if s == "" {
		return bad("it is empty")
	}
	if strings.TrimSpace(s) != s {
		return bad("it has leading or trailing white space")
	}
	if IsLayout(s) {
		return parseLayoutRef(attr, s)
	}
	if strings.Contains(s, "://") {
		return bad("write it without a scheme, as host[:port]/repository[:tag][@sha256:digest], or write an OCI image layout as oci-layout://<path>:<ref> or oci-layout://<path>@sha256:<digest>")
	}
	base, digest, hasDigest := strings.Cut(s, "@")
	var ref imageRef
	if hasDigest {
		h, err := v1.NewHash(digest)
		if err != nil {
			return bad("digest %q is not sha256:<64 hex digits>", digest)
		}
		if h.Algorithm != "sha256" {
			return bad("digest algorithm %q is not supported, only sha256", h.Algorithm)
		}
		ref.Digest = h.String()
	}
	repo, tag := splitTag(base)
	if tag == "" && len(repo) < len(base) {
		return bad("it ends with %q but has no tag after it; remove the colon or write the tag", ":")
	}
	if tag != "" && !tagPattern.MatchString(tag) {
		return bad("tag %q is not valid: a tag has up to 128 letters, digits, '_', '.' and '-', and starts with a letter, digit or '_'", tag)
	}
	if tag == "" && !hasDigest {
		tag = defaultTag
	}
	parsed, err := parse(repo)
	if err != nil {
		return bad("%v", explainRepository(repo, err))
	}
	ref.Repo = parsed.Context()
	if tag != "" {
		if _, err := name.NewTag(ref.Repo.Name()+":"+tag, name.StrictValidation); err != nil {
			return bad("tag %q is not valid: %v", tag, err)
		}
		ref.Tag = tag
	}
	return ref, nil
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

// String formats the reference as repo[:tag][@digest].
func (r imageRef) String() string {
	if r.Layout != nil {
		s := LayoutScheme + r.Layout.Path
		if r.Layout.Name != "" {
			s += ":" + r.Layout.Name
		}
		if r.Digest != "" {
			s += "@" + r.Digest
		}
		return s
	}
	s := r.Repo.Name()
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// pinned is the reference to read: by digest when known, else by tag.
func (r imageRef) pinned() name.Reference {
	if r.Digest != "" {
		return r.Repo.Digest(r.Digest)
	}
	return r.Repo.Tag(r.Tag)
}

// repository is the repository as messages and the state show it: oci-layout://<path> for a
// layout.
func (r imageRef) repository() string {
	if r.Layout != nil {
		return LayoutScheme + r.Layout.Path
	}
	return r.Repo.Name()
}
