package verify

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
)

// What cosign writes, by the names its own source uses.
const (
	// SignatureAnnotation holds the base64 signature of a .sig layer's payload (empty on .att
	// layers, whose DSSE envelope carries it).
	SignatureAnnotation = "dev.cosignproject.cosign/signature"
	// CertificateAnnotation holds the PEM signing certificate of a keyless signature.
	CertificateAnnotation = "dev.sigstore.cosign/certificate"
	// ChainAnnotation holds the PEM certificates between the signing certificate and the root.
	ChainAnnotation = "dev.sigstore.cosign/chain"
	// BundleAnnotation holds the transparency-log entry cosign got from Rekor (JSON with the
	// SignedEntryTimestamp and the entry's body, integrated time, log index and log ID).
	BundleAnnotation = "dev.sigstore.cosign/bundle"
	// PredicateTypeAnnotation is the predicate type cosign notes on .att layers (unsigned: the
	// statement inside the envelope is what counts).
	PredicateTypeAnnotation = "predicateType"

	// SimpleSigningMediaType is the media type of a .sig layer: a simple-signing payload.
	SimpleSigningMediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	// DSSEMediaType is the media type of a .att layer: a DSSE envelope.
	DSSEMediaType = "application/vnd.dsse.envelope.v1+json"
	// InTotoPayloadType is the DSSE payload type of in-toto statements.
	InTotoPayloadType = "application/vnd.in-toto+json"
	// SimpleSigningType is critical.type of a cosign simple-signing payload.
	SimpleSigningType = "cosign container image signature"

	// BundleMediaType is the media type of a Sigstore bundle v0.3 as cosign 3 stores it: the
	// referrer's artifactType and its layer's media type. Older bundles are
	// "application/vnd.dev.sigstore.bundle+json;version=0.1" and 0.2.
	BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// CosignSignPredicateType is the predicate type of the in-toto statement that cosign 3 signs
	// for an image: a bundle of this type is a signature, other types are attestations.
	CosignSignPredicateType = "https://sigstore.dev/cosign/sign/v1"

	// bundleMediaTypePrefix starts every Sigstore bundle media type.
	bundleMediaTypePrefix = "application/vnd.dev.sigstore.bundle"
	// legacyBundleMediaType is the bundle version whose rules fit what cosign's tags hold: a
	// transparency-log entry with its inclusion promise (the SignedEntryTimestamp) and no proof.
	legacyBundleMediaType = "application/vnd.dev.sigstore.bundle+json;version=0.1"
)

// Tag suffixes of cosign's tag scheme: "sha256-<hex>.sig" and "sha256-<hex>.att".
const (
	signatureTagSuffix   = ".sig"
	attestationTagSuffix = ".att"
)

// CosignTag is the tag under which cosign stores what it attaches to digest d: suffix ".sig"
// for signatures, ".att" for attestations.
func CosignTag(d v1.Hash, suffix string) string {
	return d.Algorithm + "-" + d.Hex + suffix
}

// rekorBundle is the JSON of BundleAnnotation.
type rekorBundle struct {
	SignedEntryTimestamp []byte
	Payload              struct {
		Body           string `json:"body"` // base64 of the canonicalized entry
		IntegratedTime int64  `json:"integratedTime"`
		LogIndex       int64  `json:"logIndex"`
		LogID          string `json:"logID"` // hex
	}
}

// simpleSigning is the part of a simple-signing payload that binds it to an image.
type simpleSigning struct {
	Critical struct {
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
}

// signedDigest is the digest a simple-signing payload names.
func signedDigest(payload []byte) (string, error) {
	var p simpleSigning
	if err := json.Unmarshal(payload, &p); err != nil {
		return "", fmt.Errorf("the payload is not simple-signing JSON: %w", err)
	}
	if p.Critical.Type != SimpleSigningType {
		return "", fmt.Errorf("the payload's critical.type is %q, not %q", p.Critical.Type, SimpleSigningType)
	}
	return p.Critical.Image.DockerManifestDigest, nil
}

// signatureLayerBundle turns a .sig layer (payload and annotations) into the bundle that says
// the same: a message signature over the payload, with the layer's certificate or a key, and
// its transparency-log entry.
func signatureLayerBundle(payload []byte, annotations map[string]string) (*bundle.Bundle, error) {
	sig, err := base64.StdEncoding.DecodeString(annotations[SignatureAnnotation])
	if err != nil || len(sig) == 0 {
		return nil, fmt.Errorf("annotation %s holds no base64 signature", SignatureAnnotation)
	}
	material, err := layerVerificationMaterial(annotations)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256(payload)
	return bundle.NewBundle(&protobundle.Bundle{
		MediaType:            legacyBundleMediaType,
		VerificationMaterial: material,
		Content: &protobundle.Bundle_MessageSignature{MessageSignature: &protocommon.MessageSignature{
			MessageDigest: &protocommon.HashOutput{Algorithm: protocommon.HashAlgorithm_SHA2_256, Digest: digest[:]},
			Signature:     sig,
		}},
	})
}

// dsseEnvelope is a DSSE envelope as JSON carries it.
type dsseEnvelope struct {
	PayloadType string `json:"payloadType"`
	Payload     []byte `json:"payload"`
	Signatures  []struct {
		KeyID string `json:"keyid"`
		Sig   []byte `json:"sig"`
	} `json:"signatures"`
}

// attestationLayerBundle turns a .att layer (a DSSE envelope and annotations) into a bundle.
func attestationLayerBundle(envelopeJSON []byte, annotations map[string]string) (*bundle.Bundle, error) {
	var env dsseEnvelope
	if err := json.Unmarshal(envelopeJSON, &env); err != nil {
		return nil, fmt.Errorf("the layer is not a DSSE envelope: %w", err)
	}
	material, err := layerVerificationMaterial(annotations)
	if err != nil {
		return nil, err
	}
	content := &protodsse.Envelope{Payload: env.Payload, PayloadType: env.PayloadType}
	for _, s := range env.Signatures {
		content.Signatures = append(content.Signatures, &protodsse.Signature{Sig: s.Sig, Keyid: s.KeyID})
	}
	return bundle.NewBundle(&protobundle.Bundle{
		MediaType:            legacyBundleMediaType,
		VerificationMaterial: material,
		Content:              &protobundle.Bundle_DsseEnvelope{DsseEnvelope: content},
	})
}

// layerVerificationMaterial reads the certificate (or, without one, says a key signed) and
// the transparency-log entry from a cosign layer's annotations. The chain is not needed: the
// certificate is checked against the trusted root's certificate authorities.
func layerVerificationMaterial(annotations map[string]string) (*protobundle.VerificationMaterial, error) {
	material := &protobundle.VerificationMaterial{}
	if certPEM := annotations[CertificateAnnotation]; certPEM != "" {
		block, _ := pem.Decode([]byte(certPEM))
		if block == nil || block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("annotation %s holds no PEM certificate", CertificateAnnotation)
		}
		material.Content = &protobundle.VerificationMaterial_Certificate{
			Certificate: &protocommon.X509Certificate{RawBytes: block.Bytes},
		}
	} else {
		material.Content = &protobundle.VerificationMaterial_PublicKey{PublicKey: &protocommon.PublicKeyIdentifier{}}
	}
	if raw := annotations[BundleAnnotation]; raw != "" {
		entry, err := parseRekorBundle(raw)
		if err != nil {
			return nil, fmt.Errorf("annotation %s: %w", BundleAnnotation, err)
		}
		material.TlogEntries = []*protorekor.TransparencyLogEntry{entry}
	}
	return material, nil
}

// parseRekorBundle turns cosign's record of a Rekor entry into the entry a bundle carries.
func parseRekorBundle(raw string) (*protorekor.TransparencyLogEntry, error) {
	var rb rekorBundle
	if err := json.Unmarshal([]byte(raw), &rb); err != nil {
		return nil, fmt.Errorf("not a transparency-log bundle: %w", err)
	}
	body, err := base64.StdEncoding.DecodeString(rb.Payload.Body)
	if err != nil {
		return nil, fmt.Errorf("the entry body is not base64: %w", err)
	}
	logID, err := hex.DecodeString(rb.Payload.LogID)
	if err != nil {
		return nil, fmt.Errorf("the log ID is not hex: %w", err)
	}
	var kind struct {
		Kind       string `json:"kind"`
		APIVersion string `json:"apiVersion"`
	}
	if err := json.Unmarshal(body, &kind); err != nil || kind.Kind == "" {
		return nil, errors.New("the entry body does not say its kind")
	}
	entry := &protorekor.TransparencyLogEntry{
		LogIndex:          rb.Payload.LogIndex,
		LogId:             &protocommon.LogId{KeyId: logID},
		KindVersion:       &protorekor.KindVersion{Kind: kind.Kind, Version: kind.APIVersion},
		IntegratedTime:    rb.Payload.IntegratedTime,
		CanonicalizedBody: body,
	}
	if len(rb.SignedEntryTimestamp) > 0 {
		entry.InclusionPromise = &protorekor.InclusionPromise{SignedEntryTimestamp: rb.SignedEntryTimestamp}
	}
	return entry, nil
}

// isBundleMediaType reports whether mt is a Sigstore bundle's media type, of any version.
func isBundleMediaType(mt string) bool {
	return strings.HasPrefix(mt, bundleMediaTypePrefix)
}
