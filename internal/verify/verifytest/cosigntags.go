package verifytest

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/sigstore/sigstore/pkg/signature/payload"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
	"github.com/zarf-dev/terraform-provider-zarf/internal/verify"
)

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
