package verify_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/zarf-dev/terraform-provider-zarf/internal/verify"
	"github.com/zarf-dev/terraform-provider-zarf/internal/verify/verifytest"
)

// Every key type cosign and KMS keys come in parses, and its fingerprint is the SHA-256 of
// its DER SubjectPublicKeyInfo.
func TestParsePublicKey_keyTypes(t *testing.T) {
	t.Parallel()
	for _, kind := range []verifytest.KeyType{verifytest.ECDSAP256, verifytest.ECDSAP384, verifytest.Ed25519, verifytest.RSA2048} {
		pemText := verifytest.NewKey(t, kind).PublicKeyPEM(t)
		k, err := verify.ParsePublicKey([]byte(pemText))
		if err != nil {
			t.Errorf("%s: %v", kind, err)
			continue
		}
		block, _ := pem.Decode([]byte(pemText))
		sum := sha256.Sum256(block.Bytes)
		if want := "sha256:" + hex.EncodeToString(sum[:]); k.Fingerprint() != want || k.String() != "key "+want {
			t.Errorf("%s: fingerprint %s (%s), want %s", kind, k.Fingerprint(), k, want)
		}
	}
}

// A PKCS #1 RSA public key parses to the same key as its PKIX form.
func TestParsePublicKey_pkcs1(t *testing.T) {
	t.Parallel()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&priv.PublicKey)})
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pkix := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	a, errA := verify.ParsePublicKey(pkcs1)
	b, errB := verify.ParsePublicKey(pkix)
	if errA != nil || errB != nil || a.Fingerprint() != b.Fingerprint() {
		t.Errorf("PKCS #1 %v (%v), PKIX %v (%v)", a, errA, b, errB)
	}
}

// What is not one usable public key is refused with what it is and what to give instead.
func TestParsePublicKey_refusals(t *testing.T) {
	t.Parallel()
	key := verifytest.NewKey(t, verifytest.ECDSAP256).PublicKeyPEM(t)
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sigstore := verifytest.NewSigstore(t)
	for name, tc := range map[string]struct {
		pem, says string
	}{
		"empty":          {"", "BEGIN PUBLIC KEY"},
		"two keys":       {key + key, "one public key per list element"},
		"certificate":    {sigstore.Keyless(t, issuer, subject).CertificatePEM(), "keyless block"},
		"private key":    {"-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n", "cosign public-key"},
		"other PEM type": {"-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n", `"FOO"`},
		"broken DER":     {"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "does not parse"},
		"weak RSA":       {pemOf(t, &weak.PublicKey), "2048 bits or more"},
		"P-224":          {pemOf(t, &p224.PublicKey), "P-256, P-384 or P-521"},
	} {
		_, err := verify.ParsePublicKey([]byte(tc.pem))
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v, want it to say %q", name, err, tc.says)
		}
	}
}

func pemOf(t *testing.T, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}
