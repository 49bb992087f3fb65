package zarfpackage

import (
	"os"
	"path/filepath"

	"github.com/zarf-dev/terraform-provider-zarf/internal/verify"
)

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

// verifySignature checks the signature of the unpacked package in dir with key, as Zarf does
// (VerifyPackageSignature): a package given a key must be signed, and its Sigstore bundle
// (zarf.bundle.sig), else its legacy `cosign sign-blob` signature (zarf.yaml.sig), must verify
// zarf.yaml's bytes with the key. Key loading and the cryptography are internal/verify's, the
// implementation that also verifies images.
func verifySignature(archive, dir string, cfg Config, key *verify.PublicKey) error {
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
	for _, file := range []string{fileBundleSignature, fileLegacySignature} {
		sig, err := os.ReadFile(filepath.Join(dir, file))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return err
		}
		if file == fileBundleSignature {
			err = key.VerifyBundle(sig, payload)
		} else {
			err = key.VerifyBlob(payload, sig)
		}
		if err != nil {
			return refuse(file, "does not verify zarf.yaml", err)
		}
		return nil
	}
	return refuse("", "zarf.yaml says the package is signed, but it has neither zarf.bundle.sig nor zarf.yaml.sig", nil)
}
