package mirror

import (
	"context"
	"errors"
	"io/fs"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registry"
	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// Replan computes what the target will hold for spec, for a plan of a mirror that may exist: prior
// is the record of its last apply (nil for a new mirror). When the selection is prior's, it asks
// the source one question (what its tag resolves to; none for a digest); when that is prior's
// digest and, with referrers, the source lists the referrers it listed then (one lookup per
// subject), it reuses prior, placed where spec's target says. Otherwise it reads the source, at
// the digest it resolved. inspected reports whether it read the source. A record larger than
// spec.MaxBytes is a *TooLargeError either way. A reused record keeps who signed the source when
// spec's verify blocks are those it was verified under; otherwise the source is verified again
// (a *VerificationError when it does not pass).
func (e *Engine) Replan(ctx context.Context, spec Spec, prior *Record) (rec Record, inspected bool, err error) {
	policy, err := e.policy(spec) // verify blocks that cannot be used fail without a request
	if err != nil {
		return Record{}, false, err
	}
	if prior != nil && prior.Selection.Equal(selectionOf(spec)) {
		src, err := e.open(spec.Source, store.RoleSource)
		if err != nil {
			return Record{}, false, err
		}
		digest, err := resolve(ctx, src)
		if err != nil {
			return Record{}, false, err
		}
		unchanged := digest == prior.SourceDigest
		if unchanged && spec.Referrers {
			if unchanged, err = e.referrersUnchanged(ctx, src.Store, prior); err != nil {
				return Record{}, false, err
			}
		}
		if unchanged {
			rec = *prior
			if _, err := e.locate(spec, rec.Digest, &rec); err != nil {
				return Record{}, false, err
			}
			if spec.MaxBytes > 0 && rec.Size > spec.MaxBytes {
				return Record{}, false, &TooLargeError{Source: src.String(), Size: rec.Size, MaxBytes: spec.MaxBytes}
			}
			if !rec.verifiedUnder(spec) { // verify blocks changed: the same content, verified again
				if err := e.verifySource(ctx, policy, src, rec.SourceDigest, spec, &rec); err != nil {
					return Record{}, false, err
				}
			}
			return rec, false, nil
		}
		spec.SourceDigest = digest
	}
	p, err := e.Plan(ctx, spec)
	if err != nil {
		return Record{}, false, err
	}
	return p.Record, true, nil
}

// referrersUnchanged looks for the referrers of the recorded subjects at the source and reports
// whether it finds what the last apply found.
func (e *Engine) referrersUnchanged(ctx context.Context, src store.Reader, prior *Record) (bool, error) {
	if prior.ReferrerLookup == nil {
		return false, nil
	}
	lookup, err := e.lookupReferrers(ctx, src, prior.ReferrerLookup.Subjects)
	if err != nil {
		return false, err
	}
	return lookup.Equal(*prior.ReferrerLookup), nil
}

// Keep plans an existing mirror whose source could not be checked (unreachable, refusing the
// credentials, or without the tag any more: the inner side of an air gap, an upstream that
// deletes old tags) as the last apply recorded it, prior, when it was recorded with the same
// selection. Otherwise, or when cause is not the source's unavailability, it returns cause:
// nothing could be copied.
func (e *Engine) Keep(spec Spec, prior *Record, cause error) (Record, error) {
	if prior == nil || !prior.Selection.Equal(selectionOf(spec)) || !sourceUnavailable(cause) {
		return Record{}, cause
	}
	rec := *prior
	if _, err := e.locate(spec, rec.Digest, &rec); err != nil {
		return Record{}, err
	}
	return rec, nil
}

// sourceUnavailable tells whether err says that the source could not be reached or read, as
// opposed to content that cannot be mirrored.
func sourceUnavailable(err error) bool {
	return errors.Is(err, store.ErrNotFound) || errors.Is(err, fs.ErrNotExist) || registry.Classify(err) != registry.Other
}
