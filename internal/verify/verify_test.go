package verify_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store/memory"
	"github.com/zarf-dev/terraform-provider-zarf/internal/verify"
	"github.com/zarf-dev/terraform-provider-zarf/internal/verify/verifytest"
)

const (
	issuer  = "https://token.actions.githubusercontent.com"
	subject = "release@acme.example"
)

// fixture is a repository holding one image to verify, and a Sigstore instance whose trusted
// root the policies use.
type fixture struct {
	repo     *memory.Store
	image    v1.Descriptor
	sigstore *verifytest.Sigstore
	root     *verify.TrustedRoot
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{repo: memory.New("acme/app"), sigstore: verifytest.NewSigstore(t)}
	f.image = verifytest.WriteImage(t, f.repo, "1.0")
	root, err := verify.ParseTrustedRoot(f.sigstore.TrustedRootJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	f.root = root
	return f
}

// verify checks the image against a policy of blocks.
func (f *fixture) verify(t *testing.T, blocks ...verify.Block) (*verify.Result, error) {
	t.Helper()
	p, err := verify.NewPolicy(blocks, f.root)
	if err != nil {
		t.Fatal(err)
	}
	return p.Verify(context.Background(), f.repo, f.image.Digest)
}

// mustVerify expects the image to pass and returns verified_by.
func (f *fixture) mustVerify(t *testing.T, blocks ...verify.Block) []string {
	t.Helper()
	res, err := f.verify(t, blocks...)
	if err != nil {
		t.Fatalf("not verified: %v", err)
	}
	return res.VerifiedBy
}

// mustFail expects the image to fail and returns the error.
func (f *fixture) mustFail(t *testing.T, blocks ...verify.Block) *verify.NotVerifiedError {
	t.Helper()
	_, err := f.verify(t, blocks...)
	var nv *verify.NotVerifiedError
	if !errors.As(err, &nv) {
		t.Fatalf("expected a *NotVerifiedError, got %v", err)
	}
	return nv
}

// reasons lists the reasons of every failure of every candidate, in order.
func reasons(e *verify.NotVerifiedError) []verify.Reason {
	var out []verify.Reason
	for _, c := range e.Candidates {
		for _, f := range c.Failures {
			out = append(out, f.Reason)
		}
	}
	return out
}

func expectReasons(t *testing.T, e *verify.NotVerifiedError, want ...verify.Reason) {
	t.Helper()
	if got := reasons(e); !slices.Equal(got, want) {
		t.Errorf("reasons %v, want %v; error:\n%v", got, want, e)
	}
}

func keyBlock(t *testing.T, transparencyLog bool, keys ...*verifytest.Signer) verify.Block {
	t.Helper()
	b := verify.Block{TransparencyLog: transparencyLog}
	for _, k := range keys {
		b.PublicKeys = append(b.PublicKeys, k.PublicKeyPEM(t))
	}
	return b
}

func keylessBlock(subject, subjectRegexp string) verify.Block {
	return verify.Block{Keyless: &verify.Keyless{Issuer: issuer, Subject: subject, SubjectRegexp: subjectRegexp}, TransparencyLog: true}
}

func fingerprint(t *testing.T, s *verifytest.Signer) string {
	t.Helper()
	k, err := verify.ParsePublicKey([]byte(s.PublicKeyPEM(t)))
	if err != nil {
		t.Fatal(err)
	}
	return k.String()
}

// Every key type signs in the .sig form without a log (cosign sign --tlog-upload=false) and
// verifies with transparency_log = false; verified_by names the key by its fingerprint.
func TestVerify_keySignatureOfEveryKeyType(t *testing.T) {
	t.Parallel()
	for _, kind := range []verifytest.KeyType{verifytest.ECDSAP256, verifytest.ECDSAP384, verifytest.Ed25519, verifytest.RSA2048} {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			key := verifytest.NewKey(t, kind)
			verifytest.WriteSignature(t, f.repo, f.image.Digest, key, verifytest.Options{})
			got := f.mustVerify(t, keyBlock(t, false, key))
			if want := []string{fingerprint(t, key)}; !slices.Equal(got, want) {
				t.Errorf("verified_by %v, want %v", got, want)
			}
		})
	}
}

// A logged key signature verifies with transparency_log = true: the entry is checked against
// the trusted root's log.
func TestVerify_keySignatureWithLogEntry(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	key := verifytest.NewKey(t, verifytest.ECDSAP256)
	verifytest.WriteSignature(t, f.repo, f.image.Digest, key, verifytest.Options{Log: f.sigstore})
	f.mustVerify(t, keyBlock(t, true, key))
}

// An unsigned image fails with "no signature found", saying where it looked.
func TestVerify_unsigned(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	key := verifytest.NewKey(t, verifytest.ECDSAP256)
	e := f.mustFail(t, keyBlock(t, false, key))
	if !errors.Is(e, verify.ErrNoSignature) {
		t.Errorf("errors.Is(ErrNoSignature) is false: %v", e)
	}
	hex := f.image.Digest.Hex
	for _, where := range []string{"cosign tag sha256-" + hex + ".sig", "cosign tag sha256-" + hex + ".att", "referrers of sha256:" + hex} {
		if !strings.Contains(e.Error(), where) {
			t.Errorf("the error does not say it looked at %s: %v", where, e)
		}
	}
}

// A signature by a key the block does not list does not count.
func TestVerify_wrongKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	signer, trusted := verifytest.NewKey(t, verifytest.ECDSAP256), verifytest.NewKey(t, verifytest.ECDSAP256)
	verifytest.WriteSignature(t, f.repo, f.image.Digest, signer, verifytest.Options{})
	e := f.mustFail(t, keyBlock(t, false, trusted))
	expectReasons(t, e, verify.ReasonUnknownKey)
	if errors.Is(e, verify.ErrNoSignature) {
		t.Error("a signature was found, yet the error says none was")
	}
}

// The classic forgery: a valid signature of another image copied to this image's tag (or
// attached as its referrer) never verifies, in any of the three forms.
func TestVerify_forgedCopy(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	other := verifytest.WriteImage(t, f.repo, "other")
	key := verifytest.NewKey(t, verifytest.ECDSAP256)
	forged := verifytest.Options{Signs: other.Digest}
	verifytest.WriteSignature(t, f.repo, f.image.Digest, key, forged)
	verifytest.WriteAttestation(t, f.repo, f.image.Digest, key, "https://slsa.dev/provenance/v1", forged)
	verifytest.WriteBundle(t, f.repo, f.image, key, "", forged)
	block := keyBlock(t, false, key)
	block.AttestationTypes = []string{"https://slsa.dev/provenance/v1"}
	e := f.mustFail(t, block)
	expectReasons(t, e, verify.ReasonOtherDigest, verify.ReasonOtherDigest, verify.ReasonOtherDigest)
	if !strings.Contains(e.Error(), other.Digest.String()) {
		t.Errorf("the error does not name the digest the signature signs: %v", e)
	}
}

// Content changed after signing fails as an invalid signature where the signer is known (a
// certificate, or a log entry naming the key); without either, a key signature cannot tell a
// change from another key and says both.
func TestVerify_tamperedPayload(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	key := verifytest.NewKey(t, verifytest.ECDSAP256)
	t.Run("keyless", func(t *testing.T) {
		f := newFixture(t)
		signer := f.sigstore.Keyless(t, issuer, subject)
		verifytest.WriteSignature(t, f.repo, f.image.Digest, signer, verifytest.Options{Log: f.sigstore, Tamper: true})
		expectReasons(t, f.mustFail(t, keylessBlock(subject, "")), verify.ReasonInvalidSignature)
	})
	t.Run("key with log entry", func(t *testing.T) {
		f := newFixture(t)
		verifytest.WriteSignature(t, f.repo, f.image.Digest, key, verifytest.Options{Log: f.sigstore, Tamper: true})
		expectReasons(t, f.mustFail(t, keyBlock(t, true, key)), verify.ReasonInvalidSignature)
	})
	t.Run("key without log entry", func(t *testing.T) {
		verifytest.WriteSignature(t, f.repo, f.image.Digest, key, verifytest.Options{Tamper: true})
		e := f.mustFail(t, keyBlock(t, false, key))
		expectReasons(t, e, verify.ReasonUnknownKey)
		if !strings.Contains(e.Error(), "changed after signing") {
			t.Errorf("the error does not mention a change after signing: %v", e)
		}
	})
	t.Run("bundle", func(t *testing.T) {
		f := newFixture(t)
		verifytest.WriteBundle(t, f.repo, f.image, f.sigstore.Keyless(t, issuer, subject), "", verifytest.Options{Log: f.sigstore, Tamper: true})
		expectReasons(t, f.mustFail(t, keylessBlock(subject, "")), verify.ReasonInvalidSignature)
	})
}

// Keyless signatures verify against the identity: exact subject, or a regexp; another subject
// or issuer is an identity mismatch.
func TestVerify_keylessIdentity(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	verifytest.WriteSignature(t, f.repo, f.image.Digest, f.sigstore.Keyless(t, issuer, subject), verifytest.Options{Log: f.sigstore})
	want := []string{"keyless " + issuer + " " + subject}
	for _, block := range []verify.Block{keylessBlock(subject, ""), keylessBlock("", `^release@acme\.example$`), keylessBlock("", `@acme\.`)} {
		if got := f.mustVerify(t, block); !slices.Equal(got, want) {
			t.Errorf("%+v: verified_by %v, want %v", block.Keyless, got, want)
		}
	}
	otherIssuer := keylessBlock(subject, "")
	otherIssuer.Keyless.Issuer = "https://accounts.google.com"
	for _, block := range []verify.Block{keylessBlock("other@acme.example", ""), keylessBlock("", `^ci@`), otherIssuer} {
		e := f.mustFail(t, block)
		expectReasons(t, e, verify.ReasonIdentityMismatch)
		if !strings.Contains(e.Error(), subject) {
			t.Errorf("the error does not say who signed: %v", e)
		}
	}
}

// With transparency_log = true, a signature without a log entry does not count, key or
// keyless; the error says how to accept it.
func TestVerify_missingTransparencyLogEntry(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	key := verifytest.NewKey(t, verifytest.ECDSAP256)
	verifytest.WriteSignature(t, f.repo, f.image.Digest, key, verifytest.Options{})
	verifytest.WriteSignature(t, f.repo, f.image.Digest, f.sigstore.Keyless(t, issuer, subject), verifytest.Options{})
	block := keyBlock(t, true, key)
	block.Keyless = &verify.Keyless{Issuer: issuer, Subject: subject}
	e := f.mustFail(t, block)
	expectReasons(t, e, verify.ReasonNoTransparencyLog, verify.ReasonNoTransparencyLog)
	if !strings.Contains(e.Error(), "transparency_log = false") {
		t.Errorf("the error does not say how to accept signatures without a log: %v", e)
	}
}

// A keyless signature needs a verified time: without the log (transparency_log = false) and
// without an RFC 3161 timestamp, it does not count.
func TestVerify_keylessWithoutAnyTimestamp(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	verifytest.WriteSignature(t, f.repo, f.image.Digest, f.sigstore.Keyless(t, issuer, subject), verifytest.Options{})
	block := keylessBlock(subject, "")
	block.TransparencyLog = false
	expectReasons(t, f.mustFail(t, block), verify.ReasonNoTimestamp)
}

// An entry of a log the trusted root does not list does not count.
func TestVerify_logEntryOfAnotherLog(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	key := verifytest.NewKey(t, verifytest.ECDSAP256)
	verifytest.WriteSignature(t, f.repo, f.image.Digest, key, verifytest.Options{Log: verifytest.NewSigstore(t)})
	expectReasons(t, f.mustFail(t, keyBlock(t, true, key)), verify.ReasonInvalidTransparencyLog)
}

// A keyless certificate is valid for minutes: a log entry made after it expired does not count.
func TestVerify_certificateExpiredAtLogTime(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	late := verifytest.Options{Log: f.sigstore, LogTime: time.Now().Add(30 * time.Minute)}
	verifytest.WriteSignature(t, f.repo, f.image.Digest, f.sigstore.Keyless(t, issuer, subject), late)
	e := f.mustFail(t, keylessBlock(subject, ""))
	expectReasons(t, e, verify.ReasonCertificateExpired)
}

// A certificate of another certificate authority, with the right identity and a valid entry
// in the trusted log, does not count.
func TestVerify_certificateOfAnotherAuthority(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	stranger := verifytest.NewSigstore(t).Keyless(t, issuer, subject)
	verifytest.WriteSignature(t, f.repo, f.image.Digest, stranger, verifytest.Options{Log: f.sigstore})
	expectReasons(t, f.mustFail(t, keylessBlock(subject, "")), verify.ReasonUntrustedCertificate)
}

// As cosign does, a keyless certificate must carry an SCT of a CT log when the trusted root
// lists CT logs (Sigstore's public-good root does); the virtual Fulcio's carry none.
func TestVerify_certificateWithoutSCT(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	verifytest.WriteSignature(t, f.repo, f.image.Digest, f.sigstore.Keyless(t, issuer, subject), verifytest.Options{Log: f.sigstore})
	f.mustVerify(t, keylessBlock(subject, ""))
	root, err := verify.ParseTrustedRoot(f.sigstore.TrustedRootJSONWithCTLog(t))
	if err != nil {
		t.Fatal(err)
	}
	f.root = root
	e := f.mustFail(t, keylessBlock(subject, ""))
	expectReasons(t, e, verify.ReasonUntrustedCertificate)
	if !strings.Contains(e.Error(), "SCT") {
		t.Errorf("the error does not mention the SCT: %v", e)
	}
}

// attestation_types requires, besides a signature, a verified attestation of each type from
// the block's signers: .att and bundle referrers both count; one of another type or signer
// does not.
func TestVerify_attestations(t *testing.T) {
	t.Parallel()
	const provenance, sbom = "https://slsa.dev/provenance/v1", "https://spdx.dev/Document"
	key := verifytest.NewKey(t, verifytest.ECDSAP256)
	block := keyBlock(t, false, key)
	block.AttestationTypes = []string{provenance}
	signed := func(t *testing.T) *fixture {
		f := newFixture(t)
		verifytest.WriteSignature(t, f.repo, f.image.Digest, key, verifytest.Options{})
		return f
	}
	t.Run("present as .att", func(t *testing.T) {
		t.Parallel()
		f := signed(t)
		verifytest.WriteAttestation(t, f.repo, f.image.Digest, key, provenance, verifytest.Options{})
		f.mustVerify(t, block)
	})
	t.Run("present as bundle referrer", func(t *testing.T) {
		t.Parallel()
		f := signed(t)
		verifytest.WriteBundle(t, f.repo, f.image, key, provenance, verifytest.Options{})
		f.mustVerify(t, block)
	})
	t.Run("absent", func(t *testing.T) {
		t.Parallel()
		e := signed(t).mustFail(t, block)
		if len(e.Blocks) != 1 || e.Blocks[0].NoSignature || !slices.Equal(e.Blocks[0].MissingAttestationTypes, []string{provenance}) {
			t.Errorf("unmet %+v, want only the provenance attestation missing", e.Blocks)
		}
	})
	t.Run("wrong type", func(t *testing.T) {
		t.Parallel()
		f := signed(t)
		verifytest.WriteAttestation(t, f.repo, f.image.Digest, key, sbom, verifytest.Options{})
		e := f.mustFail(t, block)
		expectReasons(t, e, verify.ReasonNotRequired)
		if !slices.Equal(e.Blocks[0].MissingAttestationTypes, []string{provenance}) {
			t.Errorf("unmet %+v, want the provenance attestation missing", e.Blocks)
		}
	})
	t.Run("other signer", func(t *testing.T) {
		t.Parallel()
		f := signed(t)
		verifytest.WriteAttestation(t, f.repo, f.image.Digest, verifytest.NewKey(t, verifytest.ECDSAP256), provenance, verifytest.Options{})
		expectReasons(t, f.mustFail(t, block), verify.ReasonUnknownKey)
	})
	t.Run("attestation without signature", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		verifytest.WriteAttestation(t, f.repo, f.image.Digest, key, provenance, verifytest.Options{})
		e := f.mustFail(t, block)
		if len(e.Blocks) != 1 || !e.Blocks[0].NoSignature || len(e.Blocks[0].MissingAttestationTypes) != 0 {
			t.Errorf("unmet %+v, want only the signature missing", e.Blocks)
		}
	})
}

// cosign 3 signs into a Sigstore bundle stored as a referrer: key and keyless signatures
// verify from it.
func TestVerify_bundleReferrer(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	key := verifytest.NewKey(t, verifytest.ECDSAP256)
	verifytest.WriteBundle(t, f.repo, f.image, key, "", verifytest.Options{Log: f.sigstore})
	verifytest.WriteBundle(t, f.repo, f.image, f.sigstore.Keyless(t, issuer, subject), "", verifytest.Options{Log: f.sigstore})
	if got := f.mustVerify(t, keyBlock(t, true, key)); !slices.Equal(got, []string{fingerprint(t, key)}) {
		t.Errorf("verified_by %v", got)
	}
	if got := f.mustVerify(t, keylessBlock(subject, "")); !slices.Equal(got, []string{"keyless " + issuer + " " + subject}) {
		t.Errorf("verified_by %v", got)
	}
}

// A bundle whose message signature signs the image manifest's bytes is a signature too; one
// that signs another image's manifest is not.
func TestVerify_manifestSignatureBundle(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	key := verifytest.NewKey(t, verifytest.ECDSAP256)
	verifytest.WriteManifestSignatureBundle(t, f.repo, f.image, key, verifytest.Options{Log: f.sigstore})
	if got := f.mustVerify(t, keyBlock(t, true, key)); !slices.Equal(got, []string{fingerprint(t, key)}) {
		t.Errorf("verified_by %v", got)
	}
	g := newFixture(t)
	other := verifytest.WriteImage(t, g.repo, "other")
	verifytest.WriteManifestSignatureBundle(t, g.repo, g.image, key, verifytest.Options{Signs: other.Digest})
	expectReasons(t, g.mustFail(t, keyBlock(t, false, key)), verify.ReasonOtherDigest)
}

// Blocks are alternatives: the image passes when one is met, and verified_by lists, sorted,
// the signers of every met block.
func TestVerify_blocksAreAlternatives(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a, b, stranger := verifytest.NewKey(t, verifytest.ECDSAP256), verifytest.NewKey(t, verifytest.Ed25519), verifytest.NewKey(t, verifytest.ECDSAP256)
	verifytest.WriteSignature(t, f.repo, f.image.Digest, a, verifytest.Options{})
	verifytest.WriteSignature(t, f.repo, f.image.Digest, b, verifytest.Options{})
	res, err := f.verify(t, keyBlock(t, false, stranger), keyBlock(t, false, b))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Blocks, []int{1}) || !slices.Equal(res.VerifiedBy, []string{fingerprint(t, b)}) {
		t.Errorf("result %+v, want block 1 met by %s", res, fingerprint(t, b))
	}
	got := f.mustVerify(t, keyBlock(t, false, a), keyBlock(t, false, b, a))
	want := []string{fingerprint(t, a), fingerprint(t, b)}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("verified_by %v, want %v", got, want)
	}
}

// The error lists every candidate with why it failed for each block, and what each block
// lacked.
func TestVerify_errorListsEveryCandidate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	trusted, stranger := verifytest.NewKey(t, verifytest.ECDSAP256), verifytest.NewKey(t, verifytest.ECDSAP256)
	verifytest.WriteSignature(t, f.repo, f.image.Digest, stranger, verifytest.Options{})
	verifytest.WriteSignature(t, f.repo, f.image.Digest, f.sigstore.Keyless(t, issuer, "intruder@acme.example"), verifytest.Options{Log: f.sigstore})
	ref := verifytest.WriteBundle(t, f.repo, f.image, trusted, "", verifytest.Options{})
	e := f.mustFail(t, keyBlock(t, true, trusted), keylessBlock(subject, ""))
	msg := e.Error()
	for _, want := range []string{
		"cosign tag sha256-" + f.image.Digest.Hex + ".sig, layer 1",
		"cosign tag sha256-" + f.image.Digest.Hex + ".sig, layer 2",
		"referrer " + ref.Digest.String(),
		"verify[0]: unknown key", "verify[1]: unknown key",
		"verify[1]: identity mismatch: signed keyless " + issuer + " intruder@acme.example",
		"verify[0]: no transparency-log entry",
		"verify[0] (trusts " + fingerprint(t, trusted) + "): no signature verified",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error lacks %q:\n%s", want, msg)
		}
	}
	if len(e.Candidates) != 3 || len(e.Blocks) != 2 {
		t.Errorf("%d candidates and %d unmet blocks, want 3 and 2", len(e.Candidates), len(e.Blocks))
	}
}

// What is not a signature in a form cosign writes is reported as malformed, not skipped.
func TestVerify_malformedSignatureLayer(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	key := verifytest.NewKey(t, verifytest.ECDSAP256)
	// An image stored under the .sig tag whose layer is no simple-signing payload.
	verifytest.WriteImage(t, f.repo, verify.CosignTag(f.image.Digest, ".sig"))
	expectReasons(t, f.mustFail(t, keyBlock(t, false, key)), verify.ReasonMalformed)
}

// A source that cannot be read is an error of its own, not a verdict on signatures.
func TestVerify_storeFailure(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	broken := errors.New("connection reset")
	f.repo.FailWith(func(op memory.Op, _ string) error {
		if op == memory.OpReferrers {
			return broken
		}
		return nil
	})
	_, err := f.verify(t, keyBlock(t, false, verifytest.NewKey(t, verifytest.ECDSAP256)))
	var nv *verify.NotVerifiedError
	if !errors.Is(err, broken) || errors.As(err, &nv) {
		t.Errorf("got %v, want the store's error", err)
	}
}
