package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// manifestBlobUnknown is the error code with which registries refuse a manifest that lists
// something they do not hold; distribution names the missing digest in the detail.
const manifestBlobUnknown = "MANIFEST_BLOB_UNKNOWN"

// Repository is one repository of a registry as a store.Target. Every request goes through the
// Client (its transport, credentials, retries, Puller and Pusher), and every error is explained
// where the registry answered it (see Client.Explain): errors of kind NotFound wrap
// store.ErrNotFound.
type Repository struct {
	c    *Client
	repo name.Repository
}

var (
	_ store.Target      = (*Repository)(nil)
	_ store.Mountable   = (*Repository)(nil)
	_ store.PushChecker = (*Repository)(nil)
	_ store.Untagger    = (*Repository)(nil)
)

// Repository returns the repository repo of the Client's registries.
func (c *Client) Repository(repo name.Repository) *Repository { return &Repository{c: c, repo: repo} }

// String is the repository's name: host/path.
func (r *Repository) String() string { return r.repo.Name() }

// Registry is the registry's host, as go-containerregistry normalises it.
func (r *Repository) Registry() string { return r.repo.RegistryStr() }

// Repository is the path of the repository within its registry.
func (r *Repository) Repository() string { return r.repo.RepositoryStr() }

// reference is the manifest that ref (a tag or a digest) names in the repository.
func (r *Repository) reference(ref string) name.Reference {
	if h, err := v1.NewHash(ref); err == nil {
		return r.repo.Digest(h.String())
	}
	return r.repo.Tag(ref)
}

// fail says that action on ref failed: "<action> <ref>: <explained error>".
func (r *Repository) fail(action string, ref fmt.Stringer, err error) error {
	return fmt.Errorf("%s %s: %w", action, ref, r.c.Explain(err, ref.String()))
}

// Resolve asks for the descriptor of a tag or digest with one HEAD request.
func (r *Repository) Resolve(ctx context.Context, ref string) (v1.Descriptor, error) {
	at := r.reference(ref)
	d, err := r.c.puller.Head(ctx, at)
	if err != nil {
		return v1.Descriptor{}, r.fail("checking", at, err)
	}
	return *d, nil
}

// Manifest reads a manifest with one GET request. Its size is bounded and its bytes are checked
// against the Docker-Content-Digest header by the Client's transport, and here against the
// digest asked for.
func (r *Repository) Manifest(ctx context.Context, ref string) (v1.Descriptor, []byte, error) {
	at := r.reference(ref)
	got, err := r.c.puller.Get(ctx, at)
	if err != nil {
		return v1.Descriptor{}, nil, r.fail("reading", at, err)
	}
	if len(got.Manifest) > store.MaxManifestBytes {
		return v1.Descriptor{}, nil, fmt.Errorf("reading %s: the manifest is %d bytes, more than the %d bytes a registry may serve", at, len(got.Manifest), store.MaxManifestBytes)
	}
	d := got.Descriptor
	if h, err := v1.NewHash(ref); err == nil {
		if sum := store.Digest(got.Manifest); sum != h {
			return v1.Descriptor{}, nil, fmt.Errorf("reading %s: the registry returned bytes whose digest is %s", at, sum)
		}
		d.Digest = h
	}
	d.Size = int64(len(got.Manifest))
	return d, got.Manifest, nil
}

// Blob streams a blob (GET). go-containerregistry checks the digest of the bytes as they pass;
// the size is checked here.
func (r *Repository) Blob(ctx context.Context, d v1.Descriptor) (io.ReadCloser, error) {
	at := r.repo.Digest(d.Digest.String())
	l, err := r.c.puller.Layer(ctx, at)
	if err != nil {
		return nil, r.fail("reading blob", at, err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, r.fail("reading blob", at, err)
	}
	return &sizedReader{rc: rc, size: d.Size, what: at.String()}, nil
}

// sizedReader fails when the bytes read are more or fewer than size.
type sizedReader struct {
	rc   io.ReadCloser
	size int64
	n    int64
	what string
}

func (s *sizedReader) Read(p []byte) (int, error) {
	n, err := s.rc.Read(p)
	s.n += int64(n)
	switch {
	case s.n > s.size:
		err = fmt.Errorf("blob %s: the registry sent more than the %d bytes the manifest gives", s.what, s.size)
	case errors.Is(err, io.EOF) && s.n < s.size:
		err = fmt.Errorf("blob %s: the registry sent %d bytes, the manifest gives %d: %w", s.what, s.n, s.size, io.ErrUnexpectedEOF)
	}
	return n, err
}

func (s *sizedReader) Close() error { return s.rc.Close() }

// Referrers lists the OCI referrers of subject: through the referrers API, else the fallback tag
// index. Once a registry has shown that it lacks the API (go-containerregistry then answers with
// the empty index that stands for "no API, no fallback tag"), the Client reads the fallback tag
// directly: one request per subject.
func (r *Repository) Referrers(ctx context.Context, subject v1.Hash) ([]v1.Descriptor, error) {
	at := r.repo.Digest(subject.String())
	if _, missing := r.c.noReferrersAPI.Load(r.repo.RegistryStr()); missing {
		return r.fallbackReferrers(ctx, subject)
	}
	idx, err := remote.Referrers(at, r.c.RemoteOptions(ctx)...)
	if err != nil {
		return nil, r.fail("listing the referrers of", at, err)
	}
	if idx == empty.Index {
		// go-containerregistry answers so only when the registry has no referrers API (it
		// answered 404, which the OCI distribution specification forbids a registry with the
		// API to do) and there is no fallback tag.
		r.c.noReferrersAPI.Store(r.repo.RegistryStr(), struct{}{})
		return []v1.Descriptor{}, nil
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("listing the referrers of %s: %w", at, err)
	}
	return im.Manifests, nil
}

// fallbackReferrers reads the index under the fallback tag "sha256-<hex>" of subject.
func (r *Repository) fallbackReferrers(ctx context.Context, subject v1.Hash) ([]v1.Descriptor, error) {
	tag := r.repo.Tag(store.FallbackTag(subject))
	d, err := r.c.puller.Get(ctx, tag)
	if Classify(err) == NotFound {
		return []v1.Descriptor{}, nil
	}
	if err != nil {
		return nil, r.fail("reading the referrers of "+subject.String()+" from", tag, err)
	}
	if d.MediaType != types.OCIImageIndex {
		return nil, fmt.Errorf("reading the referrers of %s: the referrers tag %s is a %s, not an OCI image index", subject, tag, d.MediaType)
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(d.Manifest))
	if err != nil {
		return nil, fmt.Errorf("reading the referrers of %s: the referrers tag %s does not parse: %w", subject, tag, err)
	}
	return im.Manifests, nil
}

// Tags lists every tag of the repository (every page).
func (r *Repository) Tags(ctx context.Context) ([]string, error) {
	tags, err := r.c.ListTags(ctx, r.repo)
	if err != nil {
		return nil, r.fail("listing the tags of", r.repo, err)
	}
	return tags, nil
}

// PushManifest puts the manifest by digest (PUT). go-containerregistry merges a manifest with a
// subject into the subject's fallback tag when the registry lacks the referrers API. A registry
// that refuses the manifest because it lacks what the manifest lists, or finds it invalid, gives
// a *store.RejectedError.
func (r *Repository) PushManifest(ctx context.Context, d v1.Descriptor, raw []byte) error {
	at := r.repo.Digest(d.Digest.String())
	err := r.c.pusher.Put(ctx, at, store.RawManifest{Bytes: raw, Type: d.MediaType})
	if err == nil {
		return nil
	}
	explained := r.fail("pushing", at, err)
	if rejected := rejection(err); rejected != nil {
		rejected.Err = explained
		return rejected
	}
	return explained
}

// rejection recognises a registry refusing a manifest: what it lacks (MANIFEST_BLOB_UNKNOWN,
// whose detail names the digest in distribution), or that it finds it invalid.
func rejection(err error) *store.RejectedError {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return nil
	}
	rejected := &store.RejectedError{}
	refused := terr.StatusCode == http.StatusBadRequest
	for _, d := range terr.Errors {
		switch d.Code {
		case manifestBlobUnknown:
			rejected.Incomplete = true
			if s, ok := d.Detail.(string); ok {
				if h, err := v1.NewHash(s); err == nil {
					rejected.Missing = append(rejected.Missing, h)
				}
			}
			refused = true
		case transport.ManifestUnknownErrorCode, transport.ManifestInvalidErrorCode, transport.BlobUnknownErrorCode:
			refused = true
		}
	}
	if !refused {
		return nil
	}
	return rejected
}

// Tag puts the manifest by tag (PUT). A registry keeps nothing for tag "".
func (r *Repository) Tag(ctx context.Context, tag string, d v1.Descriptor, raw []byte) error {
	if tag == "" {
		return nil
	}
	at := r.repo.Tag(tag)
	if err := r.c.pusher.Put(ctx, at, store.RawManifest{Bytes: raw, Type: d.MediaType}); err != nil {
		return r.fail("tagging", at, err)
	}
	return nil
}

// Delete deletes the manifest h by digest (and with it, on most registries, the tags that point
// at it), unless another tag of the repository points at it (another mirror of the same image,
// or someone else's tag): then only tag goes (DELETE by tag), or nothing when tag is "".
func (r *Repository) Delete(ctx context.Context, tag string, h v1.Hash) error {
	shared, err := r.taggedElsewhere(ctx, tag, h)
	if err != nil {
		return err
	}
	var at name.Reference = r.repo.Digest(h.String())
	if shared {
		if tag == "" {
			return nil // pushed by digest only, and a tag keeps it: nothing of the mirror's own to remove
		}
		at = r.repo.Tag(tag)
	}
	return r.deleteRef(ctx, at)
}

// Untag deletes the tag alone (DELETE by tag), leaving the manifest it points at.
func (r *Repository) Untag(ctx context.Context, tag string) error {
	return r.deleteRef(ctx, r.repo.Tag(tag))
}

// deleteRef deletes a manifest by digest, or a tag; nil when it is gone already.
func (r *Repository) deleteRef(ctx context.Context, at name.Reference) error {
	err := r.c.pusher.Delete(ctx, at)
	var terr *transport.Error
	switch {
	case err == nil, Classify(err) == NotFound:
		return nil
	case errors.As(err, &terr) && (terr.StatusCode == http.StatusMethodNotAllowed || hasCode(terr, transport.UnsupportedErrorCode)):
		return fmt.Errorf("deleting %s: the registry does not allow deleting manifests: %w: %w", at, err, store.ErrUnsupported)
	default:
		return r.fail("deleting", at, err)
	}
}

// taggedElsewhere reports whether a tag other than tag points at h, with one HEAD per tag (a
// few at a time) until one does.
func (r *Repository) taggedElsewhere(ctx context.Context, tag string, h v1.Hash) (bool, error) {
	tags, err := r.Tags(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var found atomic.Bool
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.c.jobs)
	for _, t := range tags {
		if t == tag {
			continue
		}
		g.Go(func() error {
			if found.Load() {
				return nil // one is enough
			}
			d, err := r.Resolve(gctx, t)
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			if err == nil && d.Digest == h {
				found.Store(true)
			}
			return err
		})
	}
	err = g.Wait()
	return found.Load(), err
}

// Lease does nothing: a registry's garbage collection is not run by clients.
func (r *Repository) Lease(context.Context) (func(), error) { return func() {}, nil }
