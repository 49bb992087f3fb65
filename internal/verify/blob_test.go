package verify_test

import (
	"strings"
	"testing"

	"github.com/zarf-dev/terraform-provider-zarf/internal/verify"
	"github.com/zarf-dev/terraform-provider-zarf/internal/verify/verifytest"
)

var zarfYAML = []byte("kind: ZarfPackageConfig\nmetadata:\n  name: app\n")

func parseKey(t *testing.T, s *verifytest.Signer) *verify.PublicKey {
	t.Helper()
	k, err := verify.ParsePublicKey([]byte(s.PublicKeyPEM(t)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// A cosign sign-blob signature (a Zarf package's zarf.yaml.sig) verifies with its key, and
// not with another key or over other content.
func TestVerifyBlob(t *testing.T) {
	t.Parallel()
	for _, kind := range []verifytest.KeyType{verifytest.ECDSAP256, verifytest.ECDSAP384, verifytest.Ed25519, verifytest.RSA2048} {
		signer := verifytest.NewKey(t, kind)
		sig := signer.SignBlob(t, zarfYAML)
		if err := parseKey(t, signer).VerifyBlob(zarfYAML, append(sig, '\n')); err != nil {
			t.Errorf("%s: %v", kind, err)
		}
	}
	signer := verifytest.NewKey(t, verifytest.ECDSAP256)
	sig := signer.SignBlob(t, zarfYAML)
	for name, tc := range map[string]struct {
		key       *verify.PublicKey
		blob, sig []byte
		says      string
	}{
		"other key":       {parseKey(t, verifytest.NewKey(t, verifytest.ECDSAP256)), zarfYAML, sig, "another key"},
		"changed content": {parseKey(t, signer), append([]byte("#\n"), zarfYAML...), sig, "changed after signing"},
		"not base64":      {parseKey(t, signer), zarfYAML, []byte("%%%"), "not base64"},
	} {
		if err := tc.key.VerifyBlob(tc.blob, tc.sig); err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v, want it to say %q", name, err, tc.says)
		}
	}
}

// A Sigstore bundle over a blob (a Zarf package's zarf.bundle.sig) verifies with its key; with
// WithTransparencyLog, only when the bundle carries an entry of a log of the trusted root.
func TestVerifyBundle(t *testing.T) {
	t.Parallel()
	sigstore := verifytest.NewSigstore(t)
	root, err := verify.ParseTrustedRoot(sigstore.TrustedRootJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	signer := verifytest.NewKey(t, verifytest.ECDSAP256)
	key := parseKey(t, signer)
	offline := verifytest.SignBlobBundle(t, zarfYAML, signer, verifytest.Options{})
	logged := verifytest.SignBlobBundle(t, zarfYAML, signer, verifytest.Options{Log: sigstore})
	if err := key.VerifyBundle(offline, zarfYAML); err != nil {
		t.Errorf("offline bundle: %v", err)
	}
	if err := key.VerifyBundle(logged, zarfYAML, verify.WithTransparencyLog(root)); err != nil {
		t.Errorf("logged bundle: %v", err)
	}
	keyless := verifytest.SignBlobBundle(t, zarfYAML, sigstore.Keyless(t, issuer, subject), verifytest.Options{Log: sigstore})
	for name, tc := range map[string]struct {
		key    *verify.PublicKey
		bundle []byte
		blob   []byte
		opts   []verify.BlobOption
		says   string
	}{
		"no log entry":    {key, offline, zarfYAML, []verify.BlobOption{verify.WithTransparencyLog(root)}, "log"},
		"other key":       {parseKey(t, verifytest.NewKey(t, verifytest.ECDSAP256)), offline, zarfYAML, nil, "does not verify"},
		"changed content": {key, offline, append([]byte("#\n"), zarfYAML...), nil, "does not verify"},
		"keyless":         {key, keyless, zarfYAML, nil, "keyless"},
		"not a bundle":    {key, []byte(`{"mediaType": "text/plain"}`), zarfYAML, nil, "not a Sigstore bundle"},
	} {
		if err := tc.key.VerifyBundle(tc.bundle, tc.blob, tc.opts...); err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v, want it to say %q", name, err, tc.says)
		}
	}
}
