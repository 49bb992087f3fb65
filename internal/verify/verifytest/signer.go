// Package verifytest signs test images the way cosign does, with real cryptography: key pairs
// made on the spot, keyless certificates, transparency-log entries and a trusted root from
// sigstore-go's virtual Sigstore, written to any store.Target in the exact layouts cosign
// writes (the .sig and .att tags, Sigstore bundle referrers). It is for tests only.
package verifytest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/sigstore/sigstore/pkg/signature"
	sigdsse "github.com/sigstore/sigstore/pkg/signature/dsse"
)

// KeyType is a kind of key pair.
type KeyType string

// The key types cosign and KMS keys come in.
const (
	ECDSAP256 KeyType = "ecdsa-p256"
	ECDSAP384 KeyType = "ecdsa-p384"
	Ed25519   KeyType = "ed25519"
	RSA2048   KeyType = "rsa-2048"
)

// Signer signs as a cosign user would: with a private key, or keyless with a short-lived
// certificate of an identity.
type Signer struct {
	signer    signature.Signer
	publicKey crypto.PublicKey
	// cert is the keyless certificate, nil for a key; chainPEM the certificates above it.
	cert     *x509.Certificate
	chainPEM string
}

// NewKey makes a key pair of the given type, as `cosign generate-key-pair` (ECDSA P-256) or a
// KMS key would be.
func NewKey(tb testing.TB, kind KeyType) *Signer {
	tb.Helper()
	var priv crypto.Signer
	var err error
	switch kind {
	case ECDSAP256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case ECDSAP384:
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case Ed25519:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case RSA2048:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		tb.Fatalf("unknown key type %q", kind)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return newSigner(tb, priv, nil)
}

func newSigner(tb testing.TB, priv crypto.PrivateKey, cert *x509.Certificate) *Signer {
	tb.Helper()
	s, err := signature.LoadDefaultSigner(priv)
	if err != nil {
		tb.Fatal(err)
	}
	pub, err := s.PublicKey()
	if err != nil {
		tb.Fatal(err)
	}
	return &Signer{signer: s, publicKey: pub, cert: cert}
}

// PublicKeyPEM is the public key as `cosign public-key` prints it: what a verify block's
// public_keys lists.
func (s *Signer) PublicKeyPEM(tb testing.TB) string {
	tb.Helper()
	der, err := x509.MarshalPKIXPublicKey(s.publicKey)
	if err != nil {
		tb.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// CertificatePEM is the keyless certificate in PEM, empty for a key.
func (s *Signer) CertificatePEM() string {
	if s.cert == nil {
		return ""
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.cert.Raw}))
}

// verifierPEM is what a transparency-log entry records of the signer: its certificate, or
// its public key.
func (s *Signer) verifierPEM(tb testing.TB) []byte {
	if s.cert != nil {
		return []byte(s.CertificatePEM())
	}
	return []byte(s.PublicKeyPEM(tb))
}

// sign signs message (a simple-signing payload, or a blob) and returns the raw signature.
func (s *Signer) sign(tb testing.TB, message []byte) []byte {
	tb.Helper()
	sig, err := s.signer.SignMessage(bytesReader(message))
	if err != nil {
		tb.Fatal(err)
	}
	return sig
}

// SignBlob signs blob as `cosign sign-blob --key` does and returns the base64 signature it
// prints (a Zarf package's zarf.yaml.sig).
func (s *Signer) SignBlob(tb testing.TB, blob []byte) []byte {
	tb.Helper()
	return []byte(base64.StdEncoding.EncodeToString(s.sign(tb, blob)))
}

// envelope signs an in-toto statement into a DSSE envelope.
func (s *Signer) envelope(tb testing.TB, statement []byte) *dsse.Envelope {
	tb.Helper()
	es, err := dsse.NewEnvelopeSigner(&sigdsse.SignerAdapter{SignatureSigner: s.signer, Pub: s.publicKey})
	if err != nil {
		tb.Fatal(err)
	}
	env, err := es.SignPayload(context.Background(), inTotoPayloadType, statement)
	if err != nil {
		tb.Fatal(err)
	}
	return env
}
