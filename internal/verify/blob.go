package verify

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
)

// VerifyBlob checks sig, a signature of blob as `cosign sign-blob --key` writes it (base64, as
// in a Zarf package's zarf.yaml.sig), against the key.
func (k *PublicKey) VerifyBlob(blob, sig []byte) error {
	raw, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(sig)))
	if err != nil {
		return fmt.Errorf("the signature is not base64 as cosign sign-blob writes it: %w", err)
	}
	if err := k.verifier.VerifySignature(bytes.NewReader(raw), bytes.NewReader(blob)); err != nil {
		return fmt.Errorf("the signature does not verify with %s: signed with another key, or the content changed after signing: %w", k, err)
	}
	return nil
}

// BlobOption changes what VerifyBundle requires.
type BlobOption func(*blobOptions)

type blobOptions struct {
	transparencyLog *TrustedRoot
}

// WithTransparencyLog requires the bundle to carry a transparency-log entry of a log of
// trustedRoot. Without it, entries are not looked at: a key signature needs none.
func WithTransparencyLog(trustedRoot *TrustedRoot) BlobOption {
	return func(o *blobOptions) { o.transparencyLog = trustedRoot }
}

// VerifyBundle checks a Sigstore bundle (JSON, v0.1 to v0.3, as `cosign sign-blob --bundle`
// writes it and a Zarf package's zarf.bundle.sig holds it) over blob, signed with the key: a
// message signature of blob, or a DSSE statement whose subject is blob's SHA-256.
func (k *PublicKey) VerifyBundle(bundleJSON, blob []byte, opts ...BlobOption) error {
	var o blobOptions
	for _, opt := range opts {
		opt(&o)
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(bundleJSON); err != nil {
		return fmt.Errorf("not a Sigstore bundle: %w", err)
	}
	content, err := b.VerificationContent()
	if err != nil {
		return fmt.Errorf("the bundle says nothing of its signer: %w", err)
	}
	if content.Certificate() != nil {
		return errors.New("the bundle is signed with a certificate (keyless), not with a key")
	}
	if entries, err := b.TlogEntries(); o.transparencyLog != nil && err == nil && len(entries) == 0 {
		return errors.New("the bundle carries no transparency-log entry, and one is required")
	}
	material := keyMaterial{o.transparencyLog.trustedMaterial(), k}
	err = verifyEntity(&b, sgverify.WithArtifact(bytes.NewReader(blob)), material, o.transparencyLog != nil, true, sgverify.WithKey())
	if err != nil {
		return fmt.Errorf("the bundle does not verify with %s: %w", k, err)
	}
	return nil
}
