package verify

import (
	"errors"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Reason is why a signature or attestation that was found did not count for a block.
type Reason string

// The reasons, from the most basic (it is not even a signature of this image) to the subtlest.
const (
	// ReasonMalformed: not in a form cosign or Sigstore writes (unparsable, wrong media type).
	ReasonMalformed Reason = "malformed"
	// ReasonOtherDigest: it signs another image (a .sig copied from another image's tag).
	ReasonOtherDigest Reason = "other digest"
	// ReasonNotRequired: an attestation of a predicate type the block does not ask for.
	ReasonNotRequired Reason = "other predicate type"
	// ReasonUnknownKey: signed by a key (or keyless signer) the block does not trust.
	ReasonUnknownKey Reason = "unknown key"
	// ReasonIdentityMismatch: a keyless certificate of another issuer or subject.
	ReasonIdentityMismatch Reason = "identity mismatch"
	// ReasonInvalidSignature: the signature does not match what it signs: changed after signing.
	ReasonInvalidSignature Reason = "invalid signature"
	// ReasonNoTransparencyLog: the block requires a transparency-log entry and there is none.
	ReasonNoTransparencyLog Reason = "no transparency-log entry"
	// ReasonInvalidTransparencyLog: the entry is not signed by a log of the trusted root, or
	// records another signature.
	ReasonInvalidTransparencyLog Reason = "invalid transparency-log entry"
	// ReasonCertificateExpired: the log recorded the signature outside the certificate's
	// validity.
	ReasonCertificateExpired Reason = "certificate expired"
	// ReasonNoTimestamp: a keyless signature without a verified time (transparency_log = false
	// and no RFC 3161 timestamp), so its short-lived certificate cannot be checked.
	ReasonNoTimestamp Reason = "no timestamp"
	// ReasonUntrustedCertificate: the certificate does not chain to the trusted root.
	ReasonUntrustedCertificate Reason = "untrusted certificate"
	// ReasonRejected: sigstore-go rejected it for another reason, given in the detail.
	ReasonRejected Reason = "rejected"
)

// Failure is why a candidate did not count for the block with index Block (-1: for every
// block).
type Failure struct {
	Block  int
	Reason Reason
	Detail string
}

func (f Failure) String() string {
	s := string(f.Reason) + ": " + f.Detail
	if f.Block >= 0 {
		s = fmt.Sprintf("verify[%d]: %s", f.Block, s)
	}
	return s
}

// Candidate is a signature or attestation that was found, and why it did not count.
type Candidate struct {
	// Where names it: "cosign tag sha256-<hex>.sig, layer 1", "referrer sha256:… (<artifact type>)".
	Where         string
	Kind          Kind
	PredicateType string // of an attestation or a DSSE signature
	Failures      []Failure
}

// Unmet says what a block lacked.
type Unmet struct {
	Block int
	// Trusts says whom the block trusts: "key sha256:…, keyless <issuer> <subject>".
	Trusts string
	// NoSignature: no signature verified with the block's signers.
	NoSignature bool
	// MissingAttestationTypes are the attestation types no verified attestation had.
	MissingAttestationTypes []string
}

// ErrNoSignature is matched (errors.Is) by a *NotVerifiedError that found nothing at all.
var ErrNoSignature = errors.New("no signature found")

// NotVerifiedError says that no block of a policy was met: where verification looked, every
// signature and attestation found there and why each did not count, and what each block lacked.
type NotVerifiedError struct {
	Source     string
	Digest     v1.Hash
	Looked     []string
	Candidates []Candidate
	Blocks     []Unmet
}

// Is makes errors.Is(err, ErrNoSignature) true when nothing was found.
func (e *NotVerifiedError) Is(target error) bool {
	return target == ErrNoSignature && len(e.Candidates) == 0
}

func (e *NotVerifiedError) Error() string {
	var b strings.Builder
	subject := e.Source + "@" + e.Digest.String()
	if len(e.Candidates) == 0 {
		fmt.Fprintf(&b, "%s: %s: looked at %s. Sign the image (cosign sign), copy its signatures along "+
			"with it to this source, or remove the verify blocks", subject, ErrNoSignature, strings.Join(e.Looked, ", "))
		return b.String()
	}
	fmt.Fprintf(&b, "%s is not verified: no verify block is met.\nFound in %s:", subject, strings.Join(e.Looked, ", "))
	for _, c := range e.Candidates {
		what := string(c.Kind)
		if c.PredicateType != "" {
			what += " " + c.PredicateType
		}
		fmt.Fprintf(&b, "\n  - %s (%s):", c.Where, what)
		for _, f := range c.Failures {
			fmt.Fprintf(&b, "\n      %s", f)
		}
	}
	for _, u := range e.Blocks {
		var lacks []string
		if u.NoSignature {
			lacks = append(lacks, "no signature verified")
		}
		for _, t := range u.MissingAttestationTypes {
			lacks = append(lacks, "no attestation of type "+t+" verified")
		}
		fmt.Fprintf(&b, "\nverify[%d] (trusts %s): %s.", u.Block, u.Trusts, strings.Join(lacks, "; "))
	}
	return b.String()
}
