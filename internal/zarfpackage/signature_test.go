package zarfpackage

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
	"github.com/zarf-dev/terraform-provider-zarf/internal/verify"
	"github.com/zarf-dev/terraform-provider-zarf/internal/verify/verifytest"
)

func publicKey(t *testing.T, s *verifytest.Signer) *verify.PublicKey {
	t.Helper()
	key, err := verify.ParsePublicKey([]byte(s.PublicKeyPEM(t)))
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// signedSpec is testSpec signed by sign.
func signedSpec(sign func(zarfYAML []byte) registrytest.ZarfSignatures) registrytest.ZarfPackageSpec {
	spec := testSpec(registrytest.ZarfTarZst)
	spec.Sign = sign
	return spec
}

// Packages are verified in both forms Zarf signs them in, with real keys and signatures; the
// Sigstore bundle is preferred when a package has both, as in Zarf.
func TestOpen_signature(t *testing.T) {
	t.Parallel()
	key, other := verifytest.NewKey(t, verifytest.ECDSAP256), verifytest.NewKey(t, verifytest.ECDSAP256)
	rsa := verifytest.NewKey(t, verifytest.RSA2048)
	bundle := func(s *verifytest.Signer) func([]byte) []byte {
		return func(b []byte) []byte { return verifytest.SignBlobBundle(t, b, s, verifytest.Options{}) }
	}
	blob := func(s *verifytest.Signer) func([]byte) []byte {
		return func(b []byte) []byte { return s.SignBlob(t, b) }
	}
	for _, tc := range []struct {
		name       string
		bundle     func([]byte) []byte
		cosignBlob func([]byte) []byte
		verifyWith *verifytest.Signer
		tamper     func(testing.TB, string)
		refused    []string // what the error says; nil: the package verifies
	}{
		{name: "bundle", bundle: bundle(key), verifyWith: key},
		{name: "cosign blob signature", cosignBlob: blob(rsa), verifyWith: rsa},
		{name: "bundle preferred", bundle: bundle(other), cosignBlob: blob(key), verifyWith: key,
			refused: []string{`"zarf.bundle.sig": does not verify zarf.yaml`, "does not verify with key sha256:"}},
		{name: "other key", cosignBlob: blob(other), verifyWith: key,
			refused: []string{`"zarf.yaml.sig": does not verify zarf.yaml`, publicKey(t, key).Fingerprint()}},
		// zarf.yaml is the root of trust: checksums.txt does not cover it, the signature does.
		{name: "zarf.yaml altered after signing", bundle: bundle(key), verifyWith: key,
			tamper: func(tb testing.TB, dir string) {
				path := filepath.Join(dir, "zarf.yaml")
				raw, _ := os.ReadFile(path)
				if err := os.WriteFile(path, bytes.Replace(raw, []byte("1.2.3"), []byte("6.6.6"), 1), 0o644); err != nil {
					tb.Fatal(err)
				}
			},
			refused: []string{`"zarf.bundle.sig": does not verify zarf.yaml`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spec := signedSpec(func(zarfYAML []byte) registrytest.ZarfSignatures {
				var sigs registrytest.ZarfSignatures
				if tc.bundle != nil {
					sigs.Bundle = tc.bundle(zarfYAML)
				}
				if tc.cosignBlob != nil {
					sigs.CosignBlob = tc.cosignBlob(zarfYAML)
				}
				return sigs
			})
			spec.Tamper = tc.tamper
			built := registrytest.WriteZarfPackage(t, t.TempDir(), spec)
			c := newCache(t)
			p, err := c.Open(context.Background(), built.Path, WithPublicKey(publicKey(t, tc.verifyWith)))
			if tc.refused != nil {
				wantRefused(t, err, ProblemSignature, tc.refused...)
				wantNothingCached(t, c)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !p.Unpacked || p.Config.Name != "app" {
				t.Errorf("got %+v", p)
			}
		})
	}
}

// A package read without a key is cached; reading it with a key verifies the cached
// signature, every time.
func TestOpen_signatureOfCachedPackage(t *testing.T) {
	t.Parallel()
	key, other := verifytest.NewKey(t, verifytest.ECDSAP256), verifytest.NewKey(t, verifytest.Ed25519)
	built := registrytest.WriteZarfPackage(t, t.TempDir(), signedSpec(func(b []byte) registrytest.ZarfSignatures {
		return registrytest.ZarfSignatures{Bundle: verifytest.SignBlobBundle(t, b, key, verifytest.Options{})}
	}))
	c := newCache(t)
	open(t, c, built.Path)
	for range 2 {
		_, err := c.Open(context.Background(), built.Path, WithPublicKey(publicKey(t, other)))
		wantRefused(t, err, ProblemSignature, "does not verify zarf.yaml")
	}
	if p := open(t, c, built.Path, WithPublicKey(publicKey(t, key))); p.Unpacked {
		t.Error("the package was unpacked again")
	}
}

// A key given for an unsigned package is an error, as in Zarf: whoever gives a key expects a
// signature.
func TestOpen_keyForUnsignedPackage(t *testing.T) {
	t.Parallel()
	built := registrytest.WriteZarfPackage(t, t.TempDir(), testSpec(registrytest.ZarfTarZst))
	c := newCache(t)
	_, err := c.Open(context.Background(), built.Path, WithPublicKey(publicKey(t, verifytest.NewKey(t, verifytest.ECDSAP256))))
	wantRefused(t, err, ProblemSignature, "not signed", "public key")
	if !errors.Is(err, ErrNotSigned) {
		t.Errorf("got %v, want ErrNotSigned", err)
	}
	wantNothingCached(t, c)
}

// A package that says it is signed but carries no signature is refused when a key is given.
func TestOpen_signedWithoutSignatureFile(t *testing.T) {
	t.Parallel()
	built := registrytest.WriteZarfPackage(t, t.TempDir(), signedSpec(func([]byte) registrytest.ZarfSignatures {
		return registrytest.ZarfSignatures{}
	}))
	_, err := newCache(t).Open(context.Background(), built.Path, WithPublicKey(publicKey(t, verifytest.NewKey(t, verifytest.ECDSAP256))))
	wantRefused(t, err, ProblemSignature, "neither zarf.bundle.sig nor zarf.yaml.sig")
}

// Without build.signed (packages of older Zarf versions), a zarf.yaml.sig makes a package
// signed, as in Zarf.
func TestIsSigned(t *testing.T) {
	t.Parallel()
	yes, no := true, false
	dir := t.TempDir()
	if isSigned(Config{}, dir) || !isSigned(Config{Signed: &yes}, dir) || isSigned(Config{Signed: &no}, dir) {
		t.Error("build.signed is not what decides")
	}
	if err := os.WriteFile(filepath.Join(dir, fileLegacySignature), []byte("sig"), 0o644); err != nil {
		t.Fatal(err)
	}
	if !isSigned(Config{}, dir) || isSigned(Config{Signed: &no}, dir) {
		t.Error("without build.signed, zarf.yaml.sig does not decide")
	}
}
