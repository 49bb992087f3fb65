package mirror

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
)

// fuzzChildIndex stands in for the filtered bytes of a kept nested index.
var fuzzChildIndex = []byte(`{"schemaVersion":2,"manifests":[]}`)

// indexNode builds an index node from raw bytes as walk does (parse, limits, sha256 only),
// without reading children: keep decides which entries are kept, kept nested indexes get
// fuzzChildIndex as their filtered bytes. It returns nil when walk would refuse the bytes.
func indexNode(raw []byte, keep func(i int) bool) *node {
	var im v1.IndexManifest
	if err := json.Unmarshal(raw, &im); err != nil || len(im.Manifests) > MaxIndexEntries {
		return nil
	}
	n := &node{desc: v1.Descriptor{MediaType: types.OCIImageIndex, Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("f", 64)}}, raw: raw, isIndex: true}
	for i, d := range im.Manifests {
		if d.Digest.Algorithm != "sha256" {
			return nil
		}
		c := &node{desc: d, platform: platformOf(d.Platform), kept: keep(i)}
		c.isIndex = d.MediaType == types.OCIImageIndex || d.MediaType == types.DockerManifestList
		c.out, c.outDigest = c.raw, d.Digest.String()
		if c.isIndex {
			c.out, c.outDigest = fuzzChildIndex, sha256Digest(fuzzChildIndex)
		}
		n.entries = append(n.entries, c)
	}
	return n
}

func FuzzFilteredIndex(f *testing.F) {
	d1 := "sha256:" + strings.Repeat("1", 64)
	d2 := "sha256:" + strings.Repeat("2", 64)
	img := func(d string) testImage {
		return testImage{Platform: "linux/amd64", Digest: d, MediaType: types.OCIManifestSchema1, Raw: []byte("{}")}
	}
	seeds := [][]byte{
		registrytest.HandIndex(types.OCIImageIndex, registrytest.ImageEntry(img(d1)), registrytest.AttestationEntry(img(d2), img(d1))),
		registrytest.HandIndex(types.DockerManifestList, registrytest.ImageEntry(img(d1)), registrytest.ImageEntry(img(d2))),
		registrytest.HandIndex(types.OCIImageIndex, registrytest.Entry{MediaType: types.OCIImageIndex, Digest: d1, Size: 3}, registrytest.ImageEntry(img(d2))),
		[]byte(`{}`),
		[]byte(`{"schemaVersion":2,"manifests":[]}`),
		[]byte(`{"manifests":null}`),
		[]byte(`{"manifests":[null]}`),
		[]byte(`[]`),
		[]byte(`null`),
		[]byte(`{"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"` + d1 + `","size":1}]}`),
		// Keys that differ only in case: Go's decoder matches them to the same field.
		[]byte(`{"manifests":[{"digest":"` + d1 + `","size":1}],"MANIFESTS":[{"digest":"` + d2 + `","size":2}]}`),
		[]byte(`{"manifests":[{"digest":"` + d1 + `","DIGEST":"` + d2 + `","size":1}]}`),
		[]byte(`{"manifests":[{"digest":"` + d1 + `","size":1}],"manifests":[{"digest":"` + d2 + `","size":2}]}`),
		[]byte(`{"manifests":[{"digest":"` + d1 + `","size":1,"annotations":{"a":"<&>\u2028"}}],"x":"\ud800"}`),
	}
	for _, s := range seeds {
		f.Add(s, uint64(0))
		f.Add(s, uint64(1))
		f.Add(s, ^uint64(0))
	}
	f.Fuzz(func(t *testing.T, raw []byte, mask uint64) {
		keep := func(i int) bool { return mask&(1<<(uint(i)%64)) != 0 }
		n := indexNode(raw, keep)
		if n == nil {
			return
		}
		out, err := n.filteredIndex()
		if err != nil {
			return
		}
		// The output is an index listing exactly the kept entries, nested indexes by their new
		// digest and size.
		im, err := v1.ParseIndexManifest(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("filtered index does not parse: %v\n%s", err, out)
		}
		var kept []*node
		for _, c := range n.entries {
			if c.kept {
				kept = append(kept, c)
			}
		}
		if len(im.Manifests) != len(kept) {
			t.Fatalf("filtered index lists %d entries, %d kept:\n%s", len(im.Manifests), len(kept), out)
		}
		for i, c := range kept {
			if got := im.Manifests[i].Digest.String(); got != c.outDigest {
				t.Fatalf("entry %d lists %s, the kept entry is %s:\nsource %s\nfiltered %s", i, got, c.outDigest, raw, out)
			}
			if c.isIndex && im.Manifests[i].Size != int64(len(c.out)) {
				t.Fatalf("entry %d size %d, want %d", i, im.Manifests[i].Size, len(c.out))
			}
		}
		// Deterministic, and filtering the output again with everything kept changes nothing.
		again, err := n.filteredIndex()
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("second filter differs: %v\n%s\n%s", err, out, again)
		}
		m := indexNode(out, func(int) bool { return true })
		if m == nil {
			t.Fatalf("walk would refuse the filtered index:\n%s", out)
		}
		twice, err := m.filteredIndex()
		if err != nil || !bytes.Equal(twice, out) {
			t.Fatalf("filtering the filtered index changes it: %v\n%s\n%s", err, out, twice)
		}
	})
}
