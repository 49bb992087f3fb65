package verifytest

import (
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
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

// push stores img (config, layers, manifest) under tag.
func push(tb testing.TB, target store.Target, tag string, img v1.Image) v1.Descriptor {
	tb.Helper()
	w := registrytest.Into(tb, target)
	config, err := partial.ConfigLayer(img)
	if err != nil {
		tb.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		tb.Fatal(err)
	}
	for _, l := range append(layers, config) {
		w.Layer(l)
	}
	raw, err := img.RawManifest()
	if err != nil {
		tb.Fatal(err)
	}
	return w.Raw(tag, types.OCIManifestSchema1, raw)
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
