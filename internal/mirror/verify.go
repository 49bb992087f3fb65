package mirror

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
	"github.com/zarf-dev/terraform-provider-zarf/internal/verify"
)

// WithTrustedRoot sets the Sigstore trusted root that keyless certificates and transparency-log
// entries are verified against (nil: none, so only key signatures without a log verify).
func WithTrustedRoot(root *verify.TrustedRoot) Option {
	return func(e *Engine) { e.trustedRoot = root }
}

// VerificationError is a source that the spec's verify blocks do not pass: Err is a
// *verify.NotVerifiedError (what was found and why each candidate failed) or a
// *verify.PolicyError (blocks that cannot be used, e.g. without a trusted root). Nothing was
// copied.
type VerificationError struct {
	Source string
	Err    error
}

func (e *VerificationError) Error() string {
	return fmt.Sprintf("%s is not mirrored: %v", e.Source, e.Err)
}

func (e *VerificationError) Unwrap() error { return e.Err }

// policy builds the policy of the spec's verify blocks, without a request: nil without blocks,
// a *VerificationError wrapping a *verify.PolicyError for blocks that cannot be used.
func (e *Engine) policy(spec Spec) (*verify.Policy, error) {
	if len(spec.Verify) == 0 {
		return nil, nil
	}
	policy, err := verify.NewPolicy(spec.Verify, e.trustedRoot)
	if err != nil {
		return nil, &VerificationError{Source: spec.Source, Err: err}
	}
	return policy, nil
}

// verifySource checks the signatures that src holds for digest against the policy of the
// spec's verify blocks (nil: none), and records who signed (VerifiedBy) and which blocks
// decided (PolicyDigest) in r. Without a policy it clears both. It is the one place the engine
// verifies: Plan calls it before it reads more than the top manifest, Replan when a record is
// reused under other blocks.
func (e *Engine) verifySource(ctx context.Context, policy *verify.Policy, src store.Location, digest string, spec Spec, r *Record) error {
	r.VerifiedBy, r.PolicyDigest = nil, ""
	if policy == nil {
		return nil
	}
	h, err := v1.NewHash(digest)
	if err != nil {
		return fmt.Errorf("source %s: %w", src, err)
	}
	res, err := policy.Verify(ctx, src.Store, h)
	if err != nil {
		var notVerified *verify.NotVerifiedError
		if errors.As(err, &notVerified) {
			return &VerificationError{Source: src.String(), Err: err}
		}
		return fmt.Errorf("verifying the signatures of %s@%s: %w", src, digest, err)
	}
	e.log(ctx, "source verified", map[string]any{"source": src.String(), "digest": digest, "verified_by": res.VerifiedBy})
	r.VerifiedBy, r.PolicyDigest = res.VerifiedBy, policyDigest(spec.Verify)
	return nil
}

// verifiedUnder reports whether r was verified under the spec's blocks (or neither has any),
// so that a plan may keep its VerifiedBy without verifying again.
func (r Record) verifiedUnder(spec Spec) bool {
	if len(spec.Verify) == 0 {
		return r.PolicyDigest == ""
	}
	return r.PolicyDigest == policyDigest(spec.Verify) && len(r.VerifiedBy) > 0
}

// policyDigest identifies a list of verify blocks: a SHA-256 over every value of every block,
// quoted, with what does not change their meaning (the order of keys and attestation types)
// normalised.
func policyDigest(blocks []verify.Block) string {
	h := sha256.New()
	for _, b := range blocks {
		fmt.Fprintf(h, "block %q %q %t", slices.Sorted(slices.Values(b.PublicKeys)),
			slices.Sorted(slices.Values(b.AttestationTypes)), b.TransparencyLog)
		if k := b.Keyless; k != nil {
			fmt.Fprintf(h, " keyless %q %q %q", k.Issuer, k.Subject, k.SubjectRegexp)
		}
		fmt.Fprintln(h)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}
