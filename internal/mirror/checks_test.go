package mirror

import (
	"bytes"
	"io"
	"testing"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// checkTargetHolds checks that the target serves every copied manifest with the planned bytes
// and media type, the top one at its digest and (when tagged) at the tag, and every blob.
func checkTargetHolds(t *testing.T, dst store.Reader, p *Plan) {
	t.Helper()
	var check func(n *node)
	check = func(n *node) {
		for _, c := range n.entries {
			if c.kept {
				check(c)
			}
		}
		d, raw, err := dst.Manifest(t.Context(), n.outDigest)
		if err != nil || !bytes.Equal(raw, n.out) || d.MediaType != n.desc.MediaType {
			t.Fatalf("target %s@%s: %v, %s, bytes equal: %v", dst, n.outDigest, err, d.MediaType, bytes.Equal(raw, n.out))
		}
		for _, b := range n.blobs {
			rc, err := dst.Blob(t.Context(), b)
			if err == nil {
				_, err = io.Copy(io.Discard, rc)
				rc.Close()
			}
			if err != nil {
				t.Fatalf("target blob %s: %v", b.Digest, err)
			}
		}
	}
	check(p.root)
	if p.Tag != "" {
		d, err := dst.Resolve(t.Context(), p.Tag)
		if err != nil || d.Digest.String() != p.Digest || string(d.MediaType) != p.MediaType {
			t.Fatalf("target tag %s: %v, %s %s, want %s", p.Tag, err, d.MediaType, d.Digest, p.Digest)
		}
	}
}
