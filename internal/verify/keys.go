package verify

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sigstore/sigstore/pkg/signature"
)

// minRSABits is the smallest RSA key accepted, as Sigstore's own clients require.
const minRSABits = 2048

// PublicKey is a public key that signatures are checked against: ECDSA (P-256, P-384, P-521),
// Ed25519 or RSA (2048 bits or more), as cosign's key pairs and most KMS keys are.
type PublicKey struct {
	key         crypto.PublicKey
	fingerprint string
	verifier    signature.Verifier
}

// ParsePublicKey reads one PEM public key ("PUBLIC KEY", as `cosign generate-key-pair` and
// `cosign public-key` write it, or PKCS #1 "RSA PUBLIC KEY"). Errors say what the PEM held
// instead and how to get the public key.
func ParsePublicKey(pemBytes []byte) (*PublicKey, error) {
	block, rest := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("no PEM block found: expected a public key that starts with -----BEGIN PUBLIC KEY-----")
	}
	if next, _ := pem.Decode(rest); next != nil {
		return nil, errors.New("more than one PEM block: give one public key per list element")
	}
	var key crypto.PublicKey
	var err error
	switch {
	case block.Type == "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case block.Type == "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case block.Type == "CERTIFICATE":
		return nil, errors.New("a certificate, not a public key: for Fulcio certificates use a keyless block; " +
			"for a key, give its public key (openssl x509 -pubkey -noout -in cert.pem)")
	case strings.Contains(block.Type, "PRIVATE KEY"):
		return nil, fmt.Errorf("a private key (%s): give the public key instead (cosign public-key --key cosign.key), "+
			"and keep the private key out of the configuration", block.Type)
	default:
		return nil, fmt.Errorf("a PEM block of type %q: expected PUBLIC KEY", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("the %s block does not parse: %w", block.Type, err)
	}
	return newPublicKey(key)
}

// newPublicKey checks that key is of a kind signatures are made with and prepares its verifiers.
func newPublicKey(key crypto.PublicKey) (*PublicKey, error) {
	verifiers, err := verifiersFor(key)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding the public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return &PublicKey{
		key:         key,
		fingerprint: "sha256:" + hex.EncodeToString(sum[:]),
		verifier:    &anyVerifier{key: key, verifiers: verifiers},
	}, nil
}

// verifiersFor lists the signature schemes a key signs with in cosign and Sigstore bundles:
// the default hash of its kind first, then what older clients used (SHA-256 on every ECDSA
// curve), and for Ed25519 both pure Ed25519 (cosign's payloads, DSSE) and Ed25519ph
// (hashedrekord bundles).
func verifiersFor(key crypto.PublicKey) ([]signature.Verifier, error) {
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		var hash crypto.Hash
		switch k.Curve {
		case elliptic.P256():
			hash = crypto.SHA256
		case elliptic.P384():
			hash = crypto.SHA384
		case elliptic.P521():
			hash = crypto.SHA512
		default:
			return nil, fmt.Errorf("an ECDSA key on curve %s: use P-256, P-384 or P-521", k.Curve.Params().Name)
		}
		loaders := []func() (signature.Verifier, error){
			func() (signature.Verifier, error) { return signature.LoadECDSAVerifier(k, hash) },
		}
		if hash != crypto.SHA256 {
			loaders = append(loaders, func() (signature.Verifier, error) { return signature.LoadECDSAVerifier(k, crypto.SHA256) })
		}
		return loadVerifiers(loaders...)
	case ed25519.PublicKey:
		return loadVerifiers(
			func() (signature.Verifier, error) { return signature.LoadED25519Verifier(k) },
			func() (signature.Verifier, error) { return signature.LoadED25519phVerifier(k) },
		)
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("an RSA key of %d bits: use %d bits or more", k.N.BitLen(), minRSABits)
		}
		return loadVerifiers(
			func() (signature.Verifier, error) { return signature.LoadRSAPKCS1v15Verifier(k, crypto.SHA256) },
		)
	default:
		return nil, fmt.Errorf("a %T key: use ECDSA, Ed25519 or RSA", key)
	}
}

func loadVerifiers(loaders ...func() (signature.Verifier, error)) ([]signature.Verifier, error) {
	out := make([]signature.Verifier, 0, len(loaders))
	for _, load := range loaders {
		v, err := load()
		if err != nil {
			return nil, fmt.Errorf("loading the public key: %w", err)
		}
		out = append(out, v)
	}
	return out, nil
}

// Fingerprint is "sha256:<hex>", the SHA-256 of the key's DER SubjectPublicKeyInfo (as
// `openssl pkey -pubin -outform der | sha256sum` prints it).
func (k *PublicKey) Fingerprint() string { return k.fingerprint }

// String is what verified_by says of a signature made with this key: "key sha256:<hex>".
func (k *PublicKey) String() string { return "key " + k.fingerprint }

// Equal reports whether other is the same public key.
func (k *PublicKey) Equal(other crypto.PublicKey) bool {
	eq, ok := k.key.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(other)
}

// anyVerifier accepts a signature that one of its verifiers accepts: one key, several schemes
// it may have signed with.
type anyVerifier struct {
	key       crypto.PublicKey
	verifiers []signature.Verifier
}

func (v *anyVerifier) PublicKey(...signature.PublicKeyOption) (crypto.PublicKey, error) {
	return v.key, nil
}

func (v *anyVerifier) VerifySignature(sig, message io.Reader, opts ...signature.VerifyOption) error {
	sigBytes, err := io.ReadAll(sig)
	if err != nil {
		return fmt.Errorf("reading the signature: %w", err)
	}
	msg, err := io.ReadAll(message)
	if err != nil {
		return fmt.Errorf("reading the signed message: %w", err)
	}
	var first error
	for _, one := range v.verifiers {
		err := one.VerifySignature(bytes.NewReader(sigBytes), bytes.NewReader(msg), opts...)
		if err == nil {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	return fmt.Errorf("the signature does not verify with this key: %w", first)
}
