package verifytest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
	"github.com/zarf-dev/terraform-provider-zarf/internal/verify"
)

// WriteBundle signs subject as cosign 3 does (an in-toto statement of predicateType in a DSSE
// envelope; "" is cosign's signature type) and stores the Sigstore bundle v0.3 as a referrer
// of subject, as cosign's WriteAttestationNewBundleFormat does. It returns the referrer.
func WriteBundle(tb testing.TB, target store.Target, subject v1.Descriptor, s *Signer, predicateType string, o Options) v1.Descriptor {
	tb.Helper()
	if predicateType == "" {
		predicateType = verify.CosignSignPredicateType
	}
	env := s.envelope(tb, statement(tb, o.signs(subject.Digest), predicateType, "https://in-toto.io/Statement/v1", "image"))
	material := s.bundleMaterial()
	if o.Log != nil {
		material.TlogEntries = []*protorekor.TransparencyLogEntry{o.Log.logEntry(tb, "dsse", marshal(tb, env), nil, s, o.logTime())}
	}
	payloadBytes, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		tb.Fatal(err)
	}
	if o.Tamper {
		payloadBytes = statement(tb, o.signs(subject.Digest), predicateType, "https://in-toto.io/Statement/v1", tampered)
	}
	content := &protodsse.Envelope{Payload: payloadBytes, PayloadType: env.PayloadType}
	for _, sig := range env.Signatures {
		raw, err := base64.StdEncoding.DecodeString(sig.Sig)
		if err != nil {
			tb.Fatal(err)
		}
		content.Signatures = append(content.Signatures, &protodsse.Signature{Sig: raw, Keyid: sig.KeyID})
	}
	bundleJSON, err := protojson.Marshal(&protobundle.Bundle{MediaType: verify.BundleMediaType, VerificationMaterial: material,
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: content}})
	if err != nil {
		tb.Fatal(err)
	}
	return writeReferrer(tb, target, subject, bundleJSON, map[string]string{
		"org.opencontainers.image.created":  time.Now().UTC().Format(time.RFC3339),
		"dev.sigstore.bundle.content":       "dsse-envelope",
		"dev.sigstore.bundle.predicateType": predicateType,
	})
}

// WriteManifestSignatureBundle signs the bytes of subject's manifest (of o.Signs, when set)
// into a Sigstore bundle with a message signature, and stores it as a referrer of subject
// (content "message-signature" in the cosign bundle specification's terms).
func WriteManifestSignatureBundle(tb testing.TB, target store.Target, subject v1.Descriptor, s *Signer, o Options) v1.Descriptor {
	tb.Helper()
	_, manifest, err := target.Manifest(context.Background(), o.signs(subject.Digest).String())
	if err != nil {
		tb.Fatal(err)
	}
	return writeReferrer(tb, target, subject, SignBlobBundle(tb, manifest, s, o), map[string]string{
		"org.opencontainers.image.created": time.Now().UTC().Format(time.RFC3339),
		"dev.sigstore.bundle.content":      "message-signature",
	})
}

// SignBlobBundle signs blob as `cosign sign-blob --key --bundle` does with the new bundle
// format (a Zarf package's zarf.bundle.sig): a Sigstore bundle v0.3 with a message signature.
func SignBlobBundle(tb testing.TB, blob []byte, s *Signer, o Options) []byte {
	tb.Helper()
	sig := s.sign(tb, blob)
	material := s.bundleMaterial()
	if o.Log != nil {
		material.TlogEntries = []*protorekor.TransparencyLogEntry{o.Log.logEntry(tb, "hashedrekord", blob, sig, s, o.logTime())}
	}
	digest := sha256.Sum256(blob)
	out, err := protojson.Marshal(&protobundle.Bundle{MediaType: verify.BundleMediaType, VerificationMaterial: material,
		Content: &protobundle.Bundle_MessageSignature{MessageSignature: &protocommon.MessageSignature{
			MessageDigest: &protocommon.HashOutput{Algorithm: protocommon.HashAlgorithm_SHA2_256, Digest: digest[:]},
			Signature:     sig,
		}}})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// bundleMaterial is the verification material of a bundle: the certificate, or the key.
func (s *Signer) bundleMaterial() *protobundle.VerificationMaterial {
	if s.cert != nil {
		return &protobundle.VerificationMaterial{Content: &protobundle.VerificationMaterial_Certificate{
			Certificate: &protocommon.X509Certificate{RawBytes: s.cert.Raw}}}
	}
	return &protobundle.VerificationMaterial{Content: &protobundle.VerificationMaterial_PublicKey{
		PublicKey: &protocommon.PublicKeyIdentifier{}}}
}

// writeReferrer stores a Sigstore bundle as cosign's WriteReferrer does: an OCI manifest with
// the bundle's media type as artifactType, the empty config, the bundle as its one layer, and
// subject as its subject.
func writeReferrer(tb testing.TB, target store.Target, subject v1.Descriptor, bundleJSON []byte, annotations map[string]string) v1.Descriptor {
	tb.Helper()
	w := registrytest.Into(tb, target)
	config := w.Blob([]byte("{}"), emptyJSONType)
	config.ArtifactType = verify.BundleMediaType
	layer := w.Blob(bundleJSON, verify.BundleMediaType)
	raw := marshal(tb, struct {
		v1.Manifest
		ArtifactType string `json:"artifactType,omitempty"`
	}{v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        config,
		Layers:        []v1.Descriptor{layer},
		Subject:       &v1.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size},
		Annotations:   annotations,
	}, verify.BundleMediaType})
	d := w.Raw("", types.OCIManifestSchema1, raw)
	d.ArtifactType = verify.BundleMediaType
	return d
}
