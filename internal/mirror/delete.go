package mirror

import (
	"context"
	"errors"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// Delete removes what the mirror rec put at target: its tag (an OCI image layout: its index.json
// entry), and the top manifest unless another tag of the target still points at it (another
// mirror of the same image, or someone else's tag); content that nothing else reaches may go with
// it. It deletes by the recorded tag and digest: after drift, the tag may point at what someone
// else pushed. It returns an error wrapping store.ErrUnsupported when the target does not allow
// deletes, and nil when the content is gone already.
//
// It never removes what another mirror of this Engine holds or is about to write (claims.go),
// nor, given FromSource, the source: it then leaves that content in place and returns a
// *KeptError saying what and why.
func (e *Engine) Delete(ctx context.Context, target string, rec Record, opts ...DeleteOption) error {
	tgt, err := e.open(target, store.RoleTarget)
	if err != nil {
		return err
	}
	h, err := v1.NewHash(rec.Digest)
	if err != nil {
		return err
	}
	var o deleteOptions
	for _, opt := range opts {
		opt(&o)
	}
	overlap := Apart
	if o.source != "" {
		if overlap, err = e.overlapOf(o.source, target, o.mode); err != nil {
			return err
		}
	}
	own := tgt.Repository + "@" + rec.Digest
	if rec.Tag != "" && !tgt.Traits.RefOmitsName {
		own = tgt.Repository + ":" + rec.Tag + "@" + rec.Digest
	}
	if overlap == SameReference {
		return &KeptError{Left: own, Reason: "the target is the source itself"}
	}
	repository := tgt.Key()
	defer e.claims.lock(repository, true)()
	if c := e.claims.entry(repository, rec.Tag, rec.Digest); c != nil {
		return &KeptError{Left: own, Reason: heldBy(c)}
	}
	dst := tgt.Store.(store.Target) //nolint:forcetypeassert // open checks it for a target
	untagger, tagsGoWithManifest := dst.(store.Untagger)
	if !tagsGoWithManifest {
		return dst.Delete(ctx, rec.Tag, h) // names are entries of their own (an OCI image layout)
	}
	onTag, onManifest := e.claims.holders(repository, rec.Tag, rec.Digest)
	var kept *KeptError
	switch {
	case onManifest != nil:
		kept = &KeptError{Left: tgt.Repository + "@" + rec.Digest, Reason: heldBy(onManifest)}
	case overlap == SameRepository:
		kept = &KeptError{Left: tgt.Repository + "@" + rec.Digest, Reason: "it is in the source's repository, where the mirror found it; only the mirror's tag is removed"}
	}
	switch {
	case kept != nil:
		// Deleting the manifest would delete it for its holder: at most the tag goes.
		if rec.Tag != "" && onTag == nil {
			if err := untagger.Untag(ctx, rec.Tag); err != nil {
				return err
			}
		}
		return kept
	case onTag != nil:
		// The tag is another mirror's, and deleting the manifest deletes the tags that point at
		// it: the manifest goes only when the tag has moved on.
		current, err := dst.Resolve(ctx, rec.Tag)
		switch {
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return err
		case err == nil && current.Digest == h:
			return &KeptError{Left: own, Reason: heldBy(onTag)}
		}
		return dst.Delete(ctx, "", h)
	}
	return dst.Delete(ctx, rec.Tag, h)
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
