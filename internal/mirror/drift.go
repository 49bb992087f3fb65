package mirror

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"golang.org/x/sync/errgroup"
)

// Expected is what the state says a target holds.
type Expected struct {
	// Target is the target reference as configured (repo, repo:tag or repo@digest).
	Target string
	// Tag is the tag the mirror wrote (empty when pushed by digest only).
	Tag string
	// Digest is the top manifest's digest.
	Digest string
	// Manifests are the digests of every copied manifest below the top.
	Manifests []string
	// Referrers are the copied referrers (Plan.Referrers).
	Referrers []Referrer
}

// Drift is what Check found at the target.
type Drift struct {
	// Gone is true when the tag (or, untagged, the top manifest) no longer exists.
	Gone bool
	// Current is the digest the tag points at now (equal to Expected.Digest without drift;
	// empty when Gone).
	Current string
	// IndexMissing is true when the expected top manifest no longer exists by digest. It is
	// checked only when the tag is gone or points elsewhere (otherwise the tag proves it
	// exists); untagged, it equals Gone.
	IndexMissing bool
	// MissingManifests lists copied manifests the target no longer has, in Expected order.
	MissingManifests []string
	// MissingReferrers lists copied referrers the target no longer has (a cosign tag gone or
	// pointing elsewhere, an OCI referrer's manifest gone), in Expected order.
	MissingReferrers []Referrer
}

// Drifted reports whether anything differs from what was expected.
func (d *Drift) Drifted(want Expected) bool {
	return d.Gone || d.Current != want.Digest || d.IndexMissing || len(d.MissingManifests) > 0 || len(d.MissingReferrers) > 0
}

// Check compares the target with what was mirrored, with HEAD requests only (registries such
// as Docker Hub do not count them against pull limits): one for the tag (or, untagged, the
// top manifest by digest), one per expected child manifest by digest, and, only when the tag
// is gone or points elsewhere, one for the top manifest by digest; and one per copied referrer
// (its cosign tag, or an OCI referrer by digest). Nothing is read from the
// target: Check learns which digests exist, not what they contain.
func (e *Engine) Check(ctx context.Context, want Expected) (*Drift, error) {
	tgt, err := e.parseImageRef("target", want.Target, "")
	if err != nil {
		return nil, err
	}
	if l := e.layoutOf(tgt.Repo); l != nil {
		return e.checkLayout(want, l)
	}
	ref := tgt.Repo.Digest(want.Digest)
	top := ref.String()
	if want.Tag != "" {
		top = tgt.Repo.Tag(want.Tag).String()
	}
	d := &Drift{}
	desc, err := e.head(ctx, top)
	switch {
	case errors.Is(err, errNotFound):
		d.Gone = true
		d.IndexMissing = true
		if want.Tag != "" {
			if d.IndexMissing, err = e.missing(ctx, ref.String()); err != nil {
				return nil, err
			}
		}
		return d, nil
	case err != nil:
		return nil, err
	}
	d.Current = desc
	if d.Current != want.Digest {
		if d.IndexMissing, err = e.missing(ctx, ref.String()); err != nil {
			return nil, err
		}
	}
	var mu sync.Mutex
	missing := map[string]bool{}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.jobs)
	for _, m := range want.Manifests {
		g.Go(func() error {
			_, err := e.head(gctx, tgt.Repo.Digest(m).String())
			if errors.Is(err, errNotFound) {
				mu.Lock()
				missing[m] = true
				mu.Unlock()
				return nil
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, m := range want.Manifests {
		if missing[m] {
			d.MissingManifests = append(d.MissingManifests, m)
		}
	}
	if d.MissingReferrers, err = e.checkReferrers(ctx, tgt.Repo, want.Referrers); err != nil { // referrers.go
		return nil, err
	}
	return d, nil
}

var errNotFound = errors.New("not found")

// IsNotFound reports whether err says that a manifest, blob or repository does not exist (the
// registry answered 404).
func IsNotFound(err error) bool { return errors.Is(err, errNotFound) || isNotFound(err) }

// missing reports whether the manifest at ref does not exist (HEAD).
func (e *Engine) missing(ctx context.Context, ref string) (bool, error) {
	_, err := e.head(ctx, ref)
	if errors.Is(err, errNotFound) {
		return true, nil
	}
	return false, err
}

// CheckImport validates the parts of an import ID without a request: target as repo:tag,
// repo@digest or repo:tag@digest (a bare repository only together with a source, which then
// gives the tag, as in a configuration), and the source, if given, as the source argument
// takes it.
func (e *Engine) CheckImport(target, source string) error {
	tgt, err := e.parseImageRef("target", target, "")
	if err != nil {
		return err
	}
	if source == "" {
		if tgt.Tag == "" && tgt.Digest == "" {
			return &ReferenceError{Attribute: "target", Value: target,
				Reason: "without a source, the target must name what to import: add :<tag> or @sha256:<digest>, or give the source as <target>,<source>"}
		}
		return nil
	}
	_, err = e.parseImageRef("source", source, "latest")
	return err
}

// head returns the digest a manifest reference points at; errNotFound when it does not exist.
func (e *Engine) head(ctx context.Context, ref string) (string, error) {
	r, err := e.client.ParseReference(ref)
	if err != nil {
		return "", err
	}
	desc, err := remote.Head(r, e.remote(ctx)...)
	if isNotFound(err) {
		return "", fmt.Errorf("%s: %w", ref, errNotFound)
	}
	if err != nil {
		return "", e.explain("checking", r, err)
	}
	return desc.Digest.String(), nil
}

// Delete removes what a mirror pushed: for a registry target the manifest (and with it, on most
// registries, the tags that point at it), unless another tag in the repository points at the
// same manifest (another mirror of the same image, or someone else's tag): then only the
// mirror's own tag goes. For a layout target, tag is the ref of the index.json entry to remove
// (empty: the entry without ref of digest), and blobs no remaining entry reaches go with it.
// It returns an error wrapping ErrDeleteUnsupported when the registry refuses deletes, and nil
// when the content is already gone.
//
// It never removes what another mirror of this Engine holds or is about to write (claims.go),
// nor, given FromSource, the source: it then leaves that content in place and returns a
// *KeptError saying what and why.
func (e *Engine) Delete(ctx context.Context, target, tag, digest string, opts ...DeleteOption) error {
	tgt, err := e.parseImageRef("target", target, "")
	if err != nil {
		return err
	}
	var o deleteOptions
	for _, opt := range opts {
		opt(&o)
	}
	overlap := Apart
	if o.source != "" {
		if overlap, err = OverlapOf(o.source, target, o.mode); err != nil {
			return err
		}
	}
	l := e.layoutOf(tgt.Repo)
	if l != nil && tag == "" {
		tag = tgt.Tag
	}
	own := tgt.Repo.Digest(digest).String()
	if l != nil {
		own = tgt.String()
	} else if tag != "" {
		own = tgt.Repo.Tag(tag).String() + "@" + digest
	}
	if overlap == SameReference {
		return &KeptError{Left: own, Reason: "the target is the source itself"}
	}
	repository := repositoryKey(tgt)
	defer e.claims.lock(repository, true)()
	if c := e.claims.entry(repository, tag, digest); c != nil {
		return &KeptError{Left: own, Reason: heldBy(c)}
	}
	if l != nil {
		return e.deleteLayout(tag, digest, l)
	}
	onTag, onManifest := e.claims.holders(repository, tag, digest)
	return e.deleteFromRegistry(ctx, tgt.Repo, tag, digest, onTag, onManifest, overlap == SameRepository)
}

// DeleteOption tells Delete more about the mirror.
type DeleteOption func(*deleteOptions)

type deleteOptions struct {
	source string
	mode   IndexMode
}

// FromSource gives Delete the mirror's source and index mode, so that it never deletes the
// source: a target that is the source itself is left as it is, and in the source's own
// repository only the mirror's tag goes, never a manifest.
func FromSource(source string, mode IndexMode) DeleteOption {
	return func(o *deleteOptions) { o.source, o.mode = source, mode }
}

// deleteFromRegistry removes the manifest digest from repo, or only the tag when the manifest
// stays (another tag points at it, another mirror holds it, or it is in the source's
// repository), leaving a tag and a manifest that another mirror holds (onTag, onManifest).
func (e *Engine) deleteFromRegistry(ctx context.Context, repo name.Repository, tag, digest string, onTag, onManifest *claim, sourceRepository bool) error {
	shared, err := e.taggedElsewhere(ctx, repo, tag, digest)
	if err != nil {
		return err
	}
	manifest := repo.Digest(digest)
	var kept *KeptError
	switch {
	case onManifest != nil:
		kept = &KeptError{Left: manifest.String(), Reason: heldBy(onManifest)}
	case sourceRepository:
		kept = &KeptError{Left: manifest.String(), Reason: "it is in the source's repository, where the mirror found it; only the mirror's tag is removed"}
	}
	switch {
	case onTag != nil && (shared || kept != nil):
		if kept == nil {
			return nil // another tag keeps the manifest, another mirror the tag: nothing is the mirror's alone
		}
		return kept
	case onTag != nil:
		// Deleting the manifest deletes the tags that point at it; the tag is another mirror's.
		current, err := e.head(ctx, repo.Tag(tag).String())
		if err != nil && !errors.Is(err, errNotFound) {
			return err
		}
		if current == digest {
			return &KeptError{Left: repo.Tag(tag).String() + "@" + digest, Reason: heldBy(onTag)}
		}
		return e.deleteManifest(ctx, manifest)
	case shared || kept != nil:
		if tag != "" {
			if err := e.deleteManifest(ctx, repo.Tag(tag)); err != nil {
				return err
			}
		}
		if kept == nil {
			return nil // pushed by digest only and a tag keeps it, or untagged: the other tag keeps the manifest
		}
		return kept
	}
	return e.deleteManifest(ctx, manifest)
}

// deleteManifest deletes a manifest by digest, or a tag; nil when it is already gone.
func (e *Engine) deleteManifest(ctx context.Context, ref name.Reference) error {
	err := remote.Delete(ref, e.remote(ctx)...)
	var terr *transport.Error
	switch {
	case err == nil, isNotFound(err):
		return nil
	case errors.As(err, &terr) && (terr.StatusCode == http.StatusMethodNotAllowed || hasCode(terr, transport.UnsupportedErrorCode)):
		return fmt.Errorf("deleting %s: %w (%w)", ref, ErrDeleteUnsupported, err)
	default:
		return e.explain("deleting", ref, err)
	}
}

// taggedElsewhere reports whether a tag other than tag points at digest in repo.
func (e *Engine) taggedElsewhere(ctx context.Context, repo name.Repository, tag, digest string) (bool, error) {
	tags, err := remote.List(repo, e.remote(ctx)...)
	if isNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, e.explain("listing the tags of", repo, err)
	}
	var found atomic.Bool
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.jobs)
	for _, t := range tags {
		if t == tag {
			continue
		}
		g.Go(func() error {
			if found.Load() {
				return nil // one is enough
			}
			d, err := e.head(gctx, repo.Tag(t).String())
			if errors.Is(err, errNotFound) {
				return nil
			}
			if d == digest {
				found.Store(true)
			}
			return err
		})
	}
	err = g.Wait()
	return found.Load(), err
}

func hasCode(terr *transport.Error, code transport.ErrorCode) bool {
	for _, d := range terr.Errors {
		if d.Code == code {
			return true
		}
	}
	return false
}
