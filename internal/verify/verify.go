package verify

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// Result is what satisfied a policy.
type Result struct {
	// VerifiedBy names, sorted and without repeats, the signers of the signatures that satisfied
	// the met blocks: "key sha256:<fingerprint>", "keyless <issuer> <subject>".
	VerifiedBy []string
	// Blocks are the indexes of the blocks that were met.
	Blocks []int
}

// Verify checks the signatures and attestations that src holds for digest (the digest that
// will be copied) against the policy. It returns a *NotVerifiedError when no block is met, and
// other errors when src could not be read.
func (p *Policy) Verify(ctx context.Context, src store.Reader, digest v1.Hash) (*Result, error) {
	found, err := discover(ctx, src, digest)
	if err != nil {
		return nil, err
	}
	failures := map[*candidate][]Failure{}
	result := &Result{}
	var unmet []Unmet
	for i := range p.blocks {
		b := &p.blocks[i]
		var signers []string
		attested := map[string]bool{}
		for _, c := range found.candidates {
			if c.unusable != nil {
				continue
			}
			if c.kind == KindAttestation && !slices.Contains(b.attestationTypes, c.predicateType) {
				failures[c] = append(failures[c], Failure{Block: b.index, Reason: ReasonNotRequired,
					Detail: fmt.Sprintf("verify[%d] asks for %v", b.index, b.attestationTypes)})
				continue
			}
			signer, failure := p.check(b, c)
			if failure != nil {
				failures[c] = append(failures[c], *failure)
				continue
			}
			if c.kind == KindSignature {
				signers = append(signers, signer)
			} else {
				attested[c.predicateType] = true
			}
		}
		var missing []string
		for _, t := range b.attestationTypes {
			if !attested[t] {
				missing = append(missing, t)
			}
		}
		if len(signers) > 0 && len(missing) == 0 {
			result.Blocks = append(result.Blocks, b.index)
			result.VerifiedBy = append(result.VerifiedBy, signers...)
			continue
		}
		unmet = append(unmet, Unmet{Block: b.index, Trusts: b.describe(), NoSignature: len(signers) == 0, MissingAttestationTypes: missing})
	}
	if len(result.Blocks) > 0 {
		slices.Sort(result.VerifiedBy)
		result.VerifiedBy = slices.Compact(result.VerifiedBy)
		return result, nil
	}
	notVerified := &NotVerifiedError{Source: src.String(), Digest: digest, Looked: found.looked, Blocks: unmet}
	for _, c := range found.candidates {
		listed := Candidate{Where: c.where, Kind: c.kind, PredicateType: c.predicateType, Failures: failures[c]}
		if c.unusable != nil {
			listed.Failures = []Failure{*c.unusable}
		}
		notVerified.Candidates = append(notVerified.Candidates, listed)
	}
	return nil, notVerified
}

// check verifies one candidate for one block: it returns who signed it, or why it does not
// count. sigstore-go decides; the checks around it only find the reason when it refuses.
func (p *Policy) check(b *block, c *candidate) (string, *Failure) {
	fail := func(reason Reason, format string, args ...any) (string, *Failure) {
		return "", &Failure{Block: b.index, Reason: reason, Detail: fmt.Sprintf(format, args...)}
	}
	content, err := c.entity.VerificationContent()
	if err != nil {
		return fail(ReasonMalformed, "%v", err)
	}
	if cert := content.Certificate(); cert != nil {
		summary, err := certificate.SummarizeCertificate(cert)
		if err != nil {
			return fail(ReasonMalformed, "the certificate does not say who signed: %v", err)
		}
		signer := fmt.Sprintf("keyless %s %s", summary.Issuer, summary.SubjectAlternativeName)
		switch {
		case b.identity == nil:
			return fail(ReasonUnknownKey, "signed %s; verify[%d] trusts only its public_keys", signer, b.index)
		case b.identity.Verify(summary) != nil:
			return fail(ReasonIdentityMismatch, "signed %s; verify[%d] trusts %s", signer, b.index, b.describe())
		}
		err = verifyEntity(c.entity, c.artifact(), p.root.trustedMaterial(), b.transparencyLog, false,
			sgverify.WithCertificateIdentity(*b.identity))
		if err == nil {
			return signer, nil
		}
		key, keyErr := newPublicKey(cert.PublicKey)
		if keyErr != nil {
			return fail(ReasonMalformed, "the certificate's key: %v", keyErr)
		}
		return "", p.diagnose(b, c, key, cert, err)
	}
	if len(b.keys) == 0 {
		return fail(ReasonUnknownKey, "signed with a key; verify[%d] trusts only %s", b.index, b.describe())
	}
	var signedBy *PublicKey
	var refusal error
	for _, key := range b.keys {
		err := verifyEntity(c.entity, c.artifact(), keyMaterial{p.root.trustedMaterial(), key}, b.transparencyLog, true, sgverify.WithKey())
		if err == nil {
			return key.String(), nil
		}
		if signedBy == nil && signatureVerifies(c, key) {
			signedBy, refusal = key, err
		}
	}
	if signedBy == nil {
		if logged := c.loggedKeyAmong(b.keys); logged != nil {
			return fail(ReasonInvalidSignature, "the transparency-log entry records a signature by %s, but the signature "+
				"does not match what it signs: changed after signing", logged)
		}
		return fail(ReasonUnknownKey, "the signature does not verify with %s: signed with another key, or changed after signing",
			b.describe())
	}
	return "", p.diagnose(b, c, signedBy, nil, refusal)
}

// diagnose finds why sigstore-go refused a candidate whose signer the block trusts: key is the
// signer's key, cert its certificate for a keyless signature.
func (p *Policy) diagnose(b *block, c *candidate, key *PublicKey, cert *x509.Certificate, refusal error) *Failure {
	fail := func(reason Reason, format string, args ...any) *Failure {
		return &Failure{Block: b.index, Reason: reason, Detail: fmt.Sprintf(format, args...)}
	}
	if !signatureVerifies(c, key) {
		return fail(ReasonInvalidSignature, "the signature does not match what it signs: changed after signing")
	}
	entries, err := c.entity.TlogEntries()
	if err != nil {
		return fail(ReasonMalformed, "%v", err)
	}
	if b.transparencyLog && len(entries) == 0 {
		return fail(ReasonNoTransparencyLog, "it was not recorded in a transparency log (signed with --tlog-upload=false?); "+
			"set transparency_log = false in verify[%d] to accept signatures without a log entry", b.index)
	}
	if cert != nil {
		for _, e := range entries {
			if t := e.IntegratedTime(); t.Before(cert.NotBefore) || t.After(cert.NotAfter) {
				return fail(ReasonCertificateExpired, "the log recorded the signature at %s, outside the certificate's validity "+
					"(%s to %s)", t.UTC().Format(time.RFC3339), cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339))
			}
		}
	}
	if b.transparencyLog {
		material := p.root.trustedMaterial()
		if cert == nil {
			material = keyMaterial{material, key}
		}
		if _, err := sgverify.VerifyTlogEntry(c.entity, material, 1, true); err != nil {
			return fail(ReasonInvalidTransparencyLog, "%v; the entry must come from a log of sigstore_trusted_root and record this signature", err)
		}
	}
	if cert != nil {
		if timestamps, _ := c.entity.Timestamps(); !b.transparencyLog && len(timestamps) == 0 {
			return fail(ReasonNoTimestamp, "a keyless certificate is valid for minutes: without transparency_log, "+
				"only an RFC 3161 timestamp can show it signed in time, and there is none")
		}
		return fail(ReasonUntrustedCertificate, "%v; the certificate must be issued by a certificate authority of "+
			"sigstore_trusted_root, valid when the signature was made, and carry a timestamp (SCT) of one of its CT logs", refusal)
	}
	return fail(ReasonRejected, "%v", refusal)
}

// verifyEntity runs sigstore-go: the signature over artifact, the signer (keyed: a public key
// of material; else a certificate of its Fulcio authorities, with identity), and with
// transparencyLog an entry in one of its logs. As cosign does, a certificate must carry a
// timestamp (SCT) of a CT log of material when material lists CT logs.
func verifyEntity(entity sgverify.SignedEntity, artifact sgverify.ArtifactPolicyOption, material root.TrustedMaterial,
	transparencyLog, keyed bool, signer sgverify.PolicyOption) error {
	var opts []sgverify.VerifierOption
	switch {
	case transparencyLog:
		opts = []sgverify.VerifierOption{sgverify.WithTransparencyLog(1), sgverify.WithObserverTimestamps(1)}
	case keyed:
		opts = []sgverify.VerifierOption{sgverify.WithNoObserverTimestamps()}
	default: // a short-lived certificate needs a signed time
		opts = []sgverify.VerifierOption{sgverify.WithSignedTimestamps(1)}
	}
	if !keyed && len(material.CTLogs()) > 0 {
		opts = append(opts, sgverify.WithSignedCertificateTimestamps(1))
	}
	v, err := sgverify.NewVerifier(material, opts...)
	if err != nil {
		return err
	}
	_, err = v.Verify(entity, sgverify.NewPolicy(artifact, signer))
	return err
}

// artifact is what the candidate signs, for sigstore-go: the signed bytes of a message
// signature, the digest for a statement.
func (c *candidate) artifact() sgverify.ArtifactPolicyOption {
	if c.signed != nil {
		return sgverify.WithArtifact(bytes.NewReader(c.signed))
	}
	digest, _ := hex.DecodeString(c.digest.Hex)
	return sgverify.WithArtifactDigest(c.digest.Algorithm, digest)
}

// signatureVerifies reports whether the candidate's signature is key's signature of what it
// signs, leaving aside certificates and logs.
func signatureVerifies(c *candidate, key *PublicKey) bool {
	content, err := c.entity.SignatureContent()
	if err != nil {
		return false
	}
	material := keyMaterial{&root.BaseTrustedMaterial{}, key}
	signer := &bundle.PublicKey{}
	if c.signed != nil {
		return sgverify.VerifySignatureWithArtifacts(content, signer, material, []io.Reader{bytes.NewReader(c.signed)}) == nil
	}
	digest, _ := hex.DecodeString(c.digest.Hex)
	return sgverify.VerifySignatureWithArtifactDigests(content, signer, material,
		[]sgverify.ArtifactDigest{{Algorithm: c.digest.Algorithm, Digest: digest}}) == nil
}

// loggedKeyAmong returns the key of keys that the candidate's transparency-log entry records as
// the signer, if any: the entry then shows that the signature was changed after signing.
func (c *candidate) loggedKeyAmong(keys []*PublicKey) *PublicKey {
	entries, err := c.entity.TlogEntries()
	if err != nil {
		return nil
	}
	for _, e := range entries {
		for _, k := range keys {
			if k.Equal(e.PublicKey()) {
				return k
			}
		}
	}
	return nil
}
