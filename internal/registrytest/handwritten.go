package registrytest

import (
	"encoding/json"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// Manifests and indexes written by hand, with key orders, white space and unknown fields that no
// library writes, so that tests prove that bytes travel unchanged.

// Manifest is a manifest a Writer wrote, with its bytes and blobs.
type Manifest struct {
	Platform  string // os/arch[/variant]; "" when it has none
	Digest    string
	MediaType types.MediaType
	Raw       []byte
	Blobs     []v1.Descriptor // config, then layers
}

// Descriptor describes the manifest as an index entry lists it (without platform).
func (m Manifest) Descriptor() v1.Descriptor {
	h, _ := v1.NewHash(m.Digest) // written by a Writer: always valid
	return v1.Descriptor{MediaType: m.MediaType, Digest: h, Size: int64(len(m.Raw))}
}

// HandImage writes an image for platform: a config blob, a 200-byte layer of its own (content
// that depends on the Writer's count of hand-written images, so every image differs) and the
// shared layers, under a manifest written by hand. docker selects Docker schema 2 media types,
// else OCI.
func (w *Writer) HandImage(platform string, docker bool, shared ...v1.Descriptor) Manifest {
	p, err := v1.ParsePlatform(platform)
	if !w.check(err, "platform %q", platform) {
		return Manifest{}
	}
	mt, configMT, layerMT := types.OCIManifestSchema1, types.OCIConfigJSON, types.OCILayer
	if docker {
		mt, configMT, layerMT = types.DockerManifestSchema2, types.DockerConfigJSON, types.DockerLayer
	}
	config := fmt.Sprintf(`{"architecture":%q,"os":%q,"variant":%q,"rootfs":{"type":"layers","diff_ids":[]},"config":{}}`,
		p.Architecture, p.OS, p.Variant)
	blobs := append([]v1.Descriptor{w.Blob([]byte(config), configMT), w.RandomLayer(200, layerMT)}, shared...)
	return w.handManifest(platform, mt, blobs)
}

// RandomLayer writes a layer of size pseudo-random bytes that differ from those of every other
// RandomLayer of the Writer, and returns its descriptor.
func (w *Writer) RandomLayer(size int64, mt types.MediaType) v1.Descriptor {
	l, err := newRandomLayer(fmt.Sprintf("registrytest hand-written layer %s %d", w.dest, w.next()), size, mt)
	if !w.check(err, "generating a layer") {
		return v1.Descriptor{}
	}
	return w.Layer(l)
}

// next counts the Writer's generated layers.
func (w *Writer) next() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seq++
	return w.seq
}

// HandAttestation writes a BuildKit-style attestation manifest about of. Every attestation has
// the same config blob.
func (w *Writer) HandAttestation(of Manifest) Manifest {
	config := w.Blob([]byte(`{"architecture":"unknown","os":"unknown","config":{},"rootfs":{"type":"layers","diff_ids":[]}}`), types.OCIConfigJSON)
	layer := w.Blob([]byte(`{"_type":"https://in-toto.io/Statement/v0.1","subject":[{"digest":{"sha256":"`+strings.TrimPrefix(of.Digest, "sha256:")+`"}}]}`), inTotoMediaType)
	return w.handManifest("", types.OCIManifestSchema1, []v1.Descriptor{config, layer})
}

// handManifest writes an image manifest of media type mt listing blobs (config first), by
// digest.
func (w *Writer) handManifest(platform string, mt types.MediaType, blobs []v1.Descriptor) Manifest {
	var b strings.Builder
	fmt.Fprintf(&b, "{\n   \"mediaType\" : %q,\n  \"schemaVersion\":2,\n \"config\": %s,\n\t\"layers\": [", mt, descJSON(blobs[0]))
	for i, l := range blobs[1:] {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n      " + descJSON(l))
	}
	b.WriteString("\n  ]\n}\n")
	raw := []byte(b.String())
	return Manifest{Platform: platform, Digest: w.Raw("", mt, raw).Digest.String(), MediaType: mt, Raw: raw, Blobs: blobs}
}

// Entry is one entry of a hand-written index.
type Entry struct {
	MediaType   types.MediaType
	Digest      string
	Size        int
	Platform    string // os/arch[/variant], "unknown/unknown", or "" for none
	Annotations string // raw JSON object, or ""
}

// ImageEntry is the index entry of an image.
func ImageEntry(img Manifest) Entry {
	return Entry{MediaType: img.MediaType, Digest: img.Digest, Size: len(img.Raw), Platform: img.Platform}
}

// AttestationEntry is the index entry of an attestation about of, as BuildKit writes it.
func AttestationEntry(att, of Manifest) Entry {
	return Entry{
		MediaType: att.MediaType, Digest: att.Digest, Size: len(att.Raw), Platform: "unknown/unknown",
		Annotations: fmt.Sprintf(`{ %q : %q, %q:%q }`, AnnotationReferenceType, AttestationManifest, AnnotationReferenceDigest, of.Digest),
	}
}

// DescriptorEntry is the index entry of a descriptor as an index lists it: media type, digest,
// size, platform and annotations.
func DescriptorEntry(d v1.Descriptor) Entry {
	e := Entry{MediaType: d.MediaType, Digest: d.Digest.String(), Size: int(d.Size)}
	if d.Platform != nil {
		e.Platform = d.Platform.String()
	}
	if len(d.Annotations) > 0 {
		raw, _ := json.Marshal(d.Annotations) // a map of strings always encodes
		e.Annotations = string(raw)
	}
	return e
}

// IndexEntry is the entry of a nested index with the bytes raw.
func IndexEntry(raw []byte, mt types.MediaType) Entry {
	return Entry{MediaType: mt, Digest: Digest(raw), Size: len(raw)}
}

// HandIndex writes an index by hand: odd key order, extra white space, unknown fields at the top
// and in every entry, and an annotation.
func HandIndex(mt types.MediaType, entries ...Entry) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "{\n  \"x-unknown-top\" : {\"b\": 1, \"a\": [true, null]},\n  \"manifests\": [")
	for i, e := range entries {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "\n    {  \"size\" :%d,\n       \"x-unknown-entry\": \"kept-%d\",  \"digest\":%q,\"mediaType\": %q", e.Size, i, e.Digest, e.MediaType)
		if e.Platform != "" {
			p := strings.SplitN(e.Platform, "/", 3)
			fmt.Fprintf(&b, ",\n      \"platform\" : { \"os\": %q, \"architecture\":%q", p[0], p[1])
			if len(p) == 3 {
				fmt.Fprintf(&b, ", \"variant\": %q", p[2])
			}
			b.WriteString(" }")
		}
		if e.Annotations != "" {
			b.WriteString(",\n      \"annotations\": " + e.Annotations)
		}
		b.WriteString("}")
	}
	fmt.Fprintf(&b, "\n  ],\n  \"schemaVersion\" :  2,\n  \"mediaType\": %q,\n  \"annotations\": {%q: \"2024-01-01T00:00:00Z\"}\n}\n",
		mt, IndexCreatedAnnotation)
	return []byte(b.String())
}

// IndexCreatedAnnotation is the annotation of every hand-written index.
const IndexCreatedAnnotation = "org.opencontainers.image.created"

// Digest is "sha256:<hex>" of b.
func Digest(b []byte) string { return store.Digest(b).String() }
