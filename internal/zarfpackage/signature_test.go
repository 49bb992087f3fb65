package zarfpackage

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
)

// fakeVerifier accepts the signatures whose bytes are "good", and records what it was asked.
type fakeVerifier struct {
	mu    sync.Mutex
	calls []Signature
	seen  [][]byte
}

func (f *fakeVerifier) VerifySignature(_ context.Context, payload []byte, sig Signature) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, sig)
	f.seen = append(f.seen, payload)
	if string(sig.Bytes) != "good" {
		return errors.New("signature made by another key")
	}
	return nil
}

func signedSpec(sigs registrytest.ZarfSignatures) registrytest.ZarfPackageSpec {
	spec := testSpec(registrytest.ZarfTarZst)
	spec.Sign = func([]byte) registrytest.ZarfSignatures { return sigs }
	return spec
}

func TestOpen_signature(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		sigs      registrytest.ZarfSignatures
		wantFile  string
		wantError bool
	}{
		// Zarf prefers the Sigstore bundle when a package has both.
		{name: "bundle and legacy", sigs: registrytest.ZarfSignatures{Bundle: []byte("good"), CosignBlob: []byte("bad")}, wantFile: fileBundleSignature},
		{name: "legacy only", sigs: registrytest.ZarfSignatures{CosignBlob: []byte("good")}, wantFile: fileLegacySignature},
		{name: "bundle does not verify", sigs: registrytest.ZarfSignatures{Bundle: []byte("bad"), CosignBlob: []byte("good")}, wantFile: fileBundleSignature, wantError: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			built := registrytest.WriteZarfPackage(t, t.TempDir(), signedSpec(tc.sigs))
			c := newCache(t)
			v := &fakeVerifier{}
			_, err := c.Open(context.Background(), built.Path, WithSignatureVerifier(v))
			if len(v.calls) != 1 || v.calls[0].File != tc.wantFile || !bytes.Equal(v.seen[0], built.ZarfYAML) {
				t.Fatalf("verifier asked %+v, want one call for %s over zarf.yaml", v.calls, tc.wantFile)
			}
			if tc.wantError {
				wantRefused(t, err, ProblemSignature, `"`+tc.wantFile+`"`, "does not verify zarf.yaml", "another key")
				wantNothingCached(t, c)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A package checked without a key is cached; opening it with a key verifies the cached
// signature, every time.
func TestOpen_signatureOfCachedPackage(t *testing.T) {
	t.Parallel()
	built := registrytest.WriteZarfPackage(t, t.TempDir(), signedSpec(registrytest.ZarfSignatures{CosignBlob: []byte("bad")}))
	c := newCache(t)
	open(t, c, built.Path)
	v := &fakeVerifier{}
	for range 2 {
		_, err := c.Open(context.Background(), built.Path, WithSignatureVerifier(v))
		wantRefused(t, err, ProblemSignature, "another key")
	}
	if len(v.calls) != 2 {
		t.Errorf("verified %d times, want 2", len(v.calls))
	}
}

// A key given for an unsigned package is an error, as in Zarf: whoever gives a key expects a
// signature.
func TestOpen_keyForUnsignedPackage(t *testing.T) {
	t.Parallel()
	built := registrytest.WriteZarfPackage(t, t.TempDir(), testSpec(registrytest.ZarfTarZst))
	c := newCache(t)
	v := &fakeVerifier{}
	_, err := c.Open(context.Background(), built.Path, WithSignatureVerifier(v))
	wantRefused(t, err, ProblemSignature, "not signed", "public key")
	if !errors.Is(err, ErrNotSigned) || len(v.calls) != 0 {
		t.Errorf("got %v after %d verifications, want ErrNotSigned before any", err, len(v.calls))
	}
}

// A package that says it is signed but carries no signature is refused when a key is given.
func TestOpen_signedWithoutSignatureFile(t *testing.T) {
	t.Parallel()
	built := registrytest.WriteZarfPackage(t, t.TempDir(), signedSpec(registrytest.ZarfSignatures{}))
	_, err := newCache(t).Open(context.Background(), built.Path, WithSignatureVerifier(&fakeVerifier{}))
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
