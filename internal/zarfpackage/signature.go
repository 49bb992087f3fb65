package zarfpackage

import (
	"context"
	"os"
	"path/filepath"
)

// SignatureFormat is one of the two forms Zarf signs packages in. Both sign zarf.yaml's bytes.
type SignatureFormat int

const (
	// SignatureBundle is zarf.bundle.sig: a Sigstore bundle (JSON) whose message signature
	// signs zarf.yaml. Zarf prefers it when a package has both.
	SignatureBundle SignatureFormat = iota + 1
	// SignatureCosignBlob is zarf.yaml.sig: what `cosign sign-blob` prints, the base64 of the
	// signature of zarf.yaml.
	SignatureCosignBlob
)

// Signature is a package's signature as its file holds it.
type Signature struct {
	Format SignatureFormat
	// File is the package file it comes from: zarf.bundle.sig or zarf.yaml.sig.
	File  string
	Bytes []byte
}

// SignatureVerifier checks a package signature with the key material its caller was given (a
// public key). This package finds the signature and decides when it must be checked; key
// loading and the cryptography belong to the implementation, so that package and image
// signatures are verified by one implementation.
type SignatureVerifier interface {
	// VerifySignature returns nil when sig is a valid signature of payload by the caller's key,
	// else an error that says why not.
	VerifySignature(ctx context.Context, payload []byte, sig Signature) error
}

// isSigned says whether a package is signed, as Zarf decides it (zarf-dev/zarf
// src/pkg/packager/layout/package.go, IsSigned): build.signed when zarf.yaml records it, else
// whether zarf.yaml.sig exists.
func isSigned(cfg Config, dir string) bool {
	if cfg.Signed != nil {
		return *cfg.Signed
	}
	_, err := os.Stat(filepath.Join(dir, fileLegacySignature))
	return err == nil
}

// verifySignature checks the signature of the unpacked package in dir with v, as Zarf does
// (VerifyPackageSignature): a package given a key must be signed, and its bundle, else its
// legacy signature, must verify.
func verifySignature(ctx context.Context, archive, dir string, cfg Config, v SignatureVerifier) error {
	refuse := func(entry, detail string, err error) error {
		return &RefusedError{Archive: archive, Problem: ProblemSignature, Entry: entry, Detail: detail, Err: err}
	}
	if !isSigned(cfg, dir) {
		return refuse("", "a public key was given to verify it with", ErrNotSigned)
	}
	payload, err := os.ReadFile(filepath.Join(dir, fileZarfYAML))
	if err != nil {
		return err
	}
	for _, candidate := range []Signature{{Format: SignatureBundle, File: fileBundleSignature}, {Format: SignatureCosignBlob, File: fileLegacySignature}} {
		candidate.Bytes, err = os.ReadFile(filepath.Join(dir, candidate.File))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return err
		}
		if err := v.VerifySignature(ctx, payload, candidate); err != nil {
			return refuse(candidate.File, "does not verify zarf.yaml", err)
		}
		return nil
	}
	return refuse("", "zarf.yaml says the package is signed, but it has neither zarf.bundle.sig nor zarf.yaml.sig", nil)
}
