package verifytest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore/pkg/signature/payload"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
	"github.com/zarf-dev/terraform-provider-zarf/internal/verify"
)

const (
	inTotoPayloadType = verify.InTotoPayloadType
	emptyJSONType     = "application/vnd.oci.empty.v1+json"
)

// Options say how a signature or attestation is made and stored.
type Options struct {
	// Log records it in this Sigstore's transparency log, as cosign does by default; nil
	// records nothing, as cosign sign --tlog-upload=false.
	Log *Sigstore
	// LogTime is when the log integrated it. The default, a minute from now, lies inside a
	// fresh keyless certificate's ten minutes.
	LogTime time.Time
	// Signs is the digest the signature names; the default is the image it is stored for.
	// Another digest is the classic forgery: one image's signature copied to another's tag.
	Signs v1.Hash
	// Tamper changes the signed content after signing, keeping the signature.
	Tamper bool
}

func (o Options) logTime() time.Time {
	if o.LogTime.IsZero() {
		return time.Now().Add(time.Minute)
	}
	return o.LogTime
}

func (o Options) signs(subject v1.Hash) v1.Hash {
	if o.Signs == (v1.Hash{}) {
		return subject
	}
	return o.Signs
}

// WriteImage stores a small image under tag and returns its descriptor: something to sign.
func WriteImage(tb testing.TB, target store.Target, tag string) v1.Descriptor {
	tb.Helper()
	img, err := mutate.Append(ociImage(), mutate.Addendum{Layer: static.NewLayer([]byte("content of "+tag), types.OCILayer)})
	if err != nil {
		tb.Fatal(err)
	}
	return push(tb, target, tag, img)
}

// WriteSignature signs subject as `cosign sign` does and adds the signature as a layer of the
// tag "sha256-<hex>.sig": a simple-signing payload with the signature, certificate, chain and
// transparency-log entry in its annotations.
func WriteSignature(tb testing.TB, target store.Target, subject v1.Hash, s *Signer, o Options) {
	tb.Helper()
	signed := simpleSigningPayload(tb, target, o.signs(subject), nil)
	sig := s.sign(tb, signed)
	annotations := s.layerAnnotations(base64.StdEncoding.EncodeToString(sig))
	if o.Log != nil {
		annotations[verify.BundleAnnotation] = cosignRekorBundle(tb, o.Log.logEntry(tb, "hashedrekord", signed, sig, s, o.logTime()))
	}
	stored := signed
	if o.Tamper {
		stored = simpleSigningPayload(tb, target, o.signs(subject), map[string]any{"note": tampered})
	}
	appendLayer(tb, target, verify.CosignTag(subject, ".sig"), stored, verify.SimpleSigningMediaType, annotations)
}

// WriteAttestation attests subject with an in-toto statement of predicateType as
// `cosign attest` does, and adds the DSSE envelope as a layer of the tag "sha256-<hex>.att".
func WriteAttestation(tb testing.TB, target store.Target, subject v1.Hash, s *Signer, predicateType string, o Options) {
	tb.Helper()
	env := s.envelope(tb, statement(tb, o.signs(subject), predicateType, "https://in-toto.io/Statement/v0.1", "image"))
	envJSON := marshal(tb, env)
	annotations := s.layerAnnotations("")
	annotations[verify.PredicateTypeAnnotation] = predicateType
	if o.Log != nil {
		annotations[verify.BundleAnnotation] = cosignRekorBundle(tb, o.Log.logEntry(tb, "dsse", envJSON, nil, s, o.logTime()))
	}
	if o.Tamper {
		env.Payload = base64.StdEncoding.EncodeToString(statement(tb, o.signs(subject), predicateType, "https://in-toto.io/Statement/v0.1", tampered))
		envJSON = marshal(tb, env)
	}
	appendLayer(tb, target, verify.CosignTag(subject, ".att"), envJSON, verify.DSSEMediaType, annotations)
}

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

// layerAnnotations are the annotations cosign puts on a .sig or .att layer, but the
// transparency-log bundle.
func (s *Signer) layerAnnotations(b64sig string) map[string]string {
	annotations := map[string]string{verify.SignatureAnnotation: b64sig}
	if s.cert != nil {
		annotations[verify.CertificateAnnotation] = s.CertificatePEM()
		annotations[verify.ChainAnnotation] = s.chainPEM
	}
	return annotations
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

// simpleSigningPayload is the payload cosign signs for digest, with optional annotations.
func simpleSigningPayload(tb testing.TB, target store.Target, digest v1.Hash, annotations map[string]any) []byte {
	tb.Helper()
	ref, err := name.NewDigest(target.String() + "@" + digest.String())
	if err != nil {
		tb.Fatalf("naming %s in %s: %v", digest, target, err)
	}
	out, err := payload.Cosign{Image: ref, Annotations: annotations}.MarshalJSON()
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// tampered is the subject name of a statement changed after signing.
const tampered = "image, changed after signing"

// statement is an in-toto statement about digest, named name (statementType v0.1 as cosign 2
// attests, v1 as cosign 3 does).
func statement(tb testing.TB, digest v1.Hash, predicateType, statementType, name string) []byte {
	tb.Helper()
	return marshal(tb, map[string]any{
		"_type":         statementType,
		"subject":       []map[string]any{{"name": name, "digest": map[string]string{digest.Algorithm: digest.Hex}}},
		"predicateType": predicateType,
		"predicate":     map[string]any{},
	})
}

// appendLayer adds a layer to the image under tag, or makes one, as cosign adds a signature
// to the signatures of an image: an OCI image with an empty-ish config, one layer each.
func appendLayer(tb testing.TB, target store.Target, tag string, content []byte, mediaType types.MediaType, annotations map[string]string) {
	tb.Helper()
	ctx := context.Background()
	img := ociImage()
	if _, raw, err := target.Manifest(ctx, tag); err == nil {
		m, err := v1.ParseManifest(bytes.NewReader(raw))
		if err != nil {
			tb.Fatal(err)
		}
		for _, l := range m.Layers {
			content := readBlob(tb, target, l)
			img = appendTo(tb, img, static.NewLayer(content, l.MediaType), l.Annotations)
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		tb.Fatal(err)
	}
	push(tb, target, tag, appendTo(tb, img, static.NewLayer(content, mediaType), annotations))
}

func appendTo(tb testing.TB, img v1.Image, layer v1.Layer, annotations map[string]string) v1.Image {
	tb.Helper()
	out, err := mutate.Append(img, mutate.Addendum{Layer: layer, Annotations: annotations})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// ociImage is cosign's base for signatures: an empty OCI image.
func ociImage() v1.Image {
	return mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
}

// push stores img (config, layers, manifest) under tag.
func push(tb testing.TB, target store.Target, tag string, img v1.Image) v1.Descriptor {
	tb.Helper()
	ctx := context.Background()
	src := blobSource{}
	config, err := partial.ConfigLayer(img)
	if err != nil {
		tb.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		tb.Fatal(err)
	}
	for _, l := range append(layers, config) {
		pushBlob(tb, target, src, l)
	}
	raw, err := img.RawManifest()
	if err != nil {
		tb.Fatal(err)
	}
	d := v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: store.Digest(raw), Size: int64(len(raw))}
	if err := target.PushManifest(ctx, d, raw); err != nil {
		tb.Fatal(err)
	}
	if err := target.Tag(ctx, tag, d, raw); err != nil {
		tb.Fatal(err)
	}
	return d
}

// writeReferrer stores a Sigstore bundle as cosign's WriteReferrer does: an OCI manifest with
// the bundle's media type as artifactType, the empty config, the bundle as its one layer, and
// subject as its subject.
func writeReferrer(tb testing.TB, target store.Target, subject v1.Descriptor, bundleJSON []byte, annotations map[string]string) v1.Descriptor {
	tb.Helper()
	ctx := context.Background()
	src := blobSource{}
	config := pushBlob(tb, target, src, static.NewLayer([]byte("{}"), emptyJSONType))
	config.ArtifactType = verify.BundleMediaType
	layer := pushBlob(tb, target, src, static.NewLayer(bundleJSON, verify.BundleMediaType))
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
	d := v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: store.Digest(raw), Size: int64(len(raw)), ArtifactType: verify.BundleMediaType}
	if err := target.PushManifest(ctx, d, raw); err != nil {
		tb.Fatal(err)
	}
	return d
}

func pushBlob(tb testing.TB, target store.Target, src blobSource, l v1.Layer) v1.Descriptor {
	tb.Helper()
	d, err := partial.Descriptor(l)
	if err != nil {
		tb.Fatal(err)
	}
	rc, err := l.Compressed()
	if err != nil {
		tb.Fatal(err)
	}
	defer rc.Close()
	if src[d.Digest], err = io.ReadAll(rc); err != nil {
		tb.Fatal(err)
	}
	if _, err := target.PushBlob(context.Background(), *d, src); err != nil {
		tb.Fatal(err)
	}
	return v1.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}
}

func readBlob(tb testing.TB, target store.Reader, d v1.Descriptor) []byte {
	tb.Helper()
	rc, err := target.Blob(context.Background(), d)
	if err != nil {
		tb.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func marshal(tb testing.TB, v any) []byte {
	tb.Helper()
	out, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// blobSource serves the blobs being pushed, as the source a Target copies from.
type blobSource map[v1.Hash][]byte

func (blobSource) String() string { return "test content" }

func (s blobSource) Blob(_ context.Context, d v1.Descriptor) (io.ReadCloser, error) {
	b, ok := s[d.Digest]
	if !ok {
		return nil, fmt.Errorf("blob %s: %w", d.Digest, store.ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (blobSource) Resolve(context.Context, string) (v1.Descriptor, error) {
	return v1.Descriptor{}, store.ErrUnsupported
}

func (blobSource) Manifest(context.Context, string) (v1.Descriptor, []byte, error) {
	return v1.Descriptor{}, nil, store.ErrUnsupported
}

func (blobSource) Referrers(context.Context, v1.Hash) ([]v1.Descriptor, error) {
	return nil, store.ErrUnsupported
}

func (blobSource) Tags(context.Context) ([]string, error) { return nil, store.ErrUnsupported }
