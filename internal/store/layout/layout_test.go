package layout

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

func TestOpen(t *testing.T) {
	digest := "sha256:" + strings.Repeat("a", 64)
	for _, c := range []struct {
		ref                         string
		role                        store.Role
		repo, name, targetTag, dgst string
	}{
		{"oci-layout://./pkg/images:1.27", store.RoleSource, "oci-layout://./pkg/images", "1.27", "1.27", ""},
		{"oci-layout:///tmp/l:docker.io/library/nginx:1.27", store.RoleSource, "oci-layout:///tmp/l", "docker.io/library/nginx:1.27", "1.27", ""},
		{"oci-layout://l:my-ref.1", store.RoleSource, "oci-layout://l", "my-ref.1", "my-ref.1", ""},
		{"oci-layout://l:not a tag/x", store.RoleSource, "", "", "", ""}, // white space: refused below
		{"oci-layout://l@" + digest, store.RoleSource, "oci-layout://l", "", "", digest},
		{"oci-layout://out", store.RoleTarget, "oci-layout://out", "", "", ""},
	} {
		loc, err := Scheme{}.Open(c.ref, c.role)
		if c.repo == "" {
			if err == nil {
				t.Errorf("Open(%q) accepted it", c.ref)
			}
			continue
		}
		if err != nil || loc.Repository != c.repo || loc.Name != c.name || loc.TargetTag != c.targetTag || loc.Digest != c.dgst {
			t.Errorf("Open(%q) = %+v, %v", c.ref, loc, err)
		}
		if _, ok := loc.Store.(store.Target); !ok || loc.BaseName != "" || !loc.Traits.RefOmitsName || !loc.Traits.KeepsUnnamed || !loc.Traits.AcceptsSparse {
			t.Errorf("Open(%q): store %T, base name %q, traits %+v", c.ref, loc.Store, loc.BaseName, loc.Traits)
		}
	}
	for _, c := range []struct {
		ref  string
		role store.Role
		want string
	}{
		{"oci-layout://", store.RoleTarget, "path is empty"},
		{"oci-layout://dir", store.RoleSource, "name the image in the layout"},
		{"oci-layout://dir:", store.RoleTarget, "names no ref"},
		{"oci-layout://dir@sha512:" + strings.Repeat("a", 128), store.RoleTarget, "is not sha256"},
	} {
		if _, err := (Scheme{}).Open(c.ref, c.role); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Open(%q) = %v, want an error saying %q", c.ref, err, c.want)
		}
	}
}

// written is a layout with an image under the ref "1.0" and the original reference of Zarf.
func written(t *testing.T) (*Store, registrytest.Manifest, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "images")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	release, err := s.Lease(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	w := registrytest.Into(t, s)
	img := w.HandImage("linux/amd64", false)
	d := img.Descriptor()
	d.Annotations = map[string]string{store.AnnotationBaseName: "docker.io/library/app:1.0"}
	if err := s.Tag(t.Context(), "1.0", d, img.Raw); err != nil {
		t.Fatal(err)
	}
	return s, img, dir
}

func TestReadByRefNameBaseNameAndDigest(t *testing.T) {
	s, img, dir := written(t)
	for _, ref := range []string{"1.0", "docker.io/library/app:1.0", "app:1.0", "index.docker.io/library/app:1.0", img.Digest} {
		d, raw, err := s.Manifest(t.Context(), ref)
		if err != nil || d.Digest.String() != img.Digest || string(raw) != string(img.Raw) || d.MediaType != img.MediaType {
			t.Fatalf("Manifest(%q) = %+v, %v", ref, d, err)
		}
		if d.Annotations[store.AnnotationBaseName] != "docker.io/library/app:1.0" {
			t.Errorf("Manifest(%q) lost the entry's annotations: %v", ref, d.Annotations)
		}
	}
	_, err := s.Resolve(t.Context(), "2.0")
	if !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), `ref "1.0"`) {
		t.Fatalf("Resolve(2.0) = %v, want not found, listing the entries", err)
	}
	if tags, err := s.Tags(t.Context()); err != nil || !slices.Equal(tags, []string{"1.0"}) {
		t.Fatalf("Tags = %v, %v", tags, err)
	}

	// A blob whose bytes changed fails at the end of the read, a missing one is not found.
	layer := img.Blobs[1]
	if err := os.WriteFile(filepath.Join(dir, "blobs", "sha256", layer.Digest.Hex), make([]byte, layer.Size), 0o644); err != nil {
		t.Fatal(err)
	}
	rc, err := s.Blob(t.Context(), layer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(rc); err == nil || !strings.Contains(err.Error(), "has the digest") {
		t.Fatalf("reading a changed blob: %v", err)
	}
	rc.Close()
	if _, err := s.Blob(t.Context(), v1.Descriptor{Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("b", 64)}}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a missing blob: %v", err)
	}
	missing, err := Open(filepath.Join(t.TempDir(), "none"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := missing.Resolve(t.Context(), "1.0"); !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "no index.json") {
		t.Fatalf("a directory that is not a layout: %v", err)
	}
}

// TestReferrersAndDelete: a manifest with a subject is an entry of its own, found by its
// subject; deleting the mirror's entry takes the referrers only it reached, and the blobs.
func TestReferrersAndDelete(t *testing.T) {
	s, img, dir := written(t)
	w := registrytest.Into(t, s)
	sbom := w.Artifact("application/vnd.example.sbom", img.Descriptor(), `{"sbom":true}`)
	sig := w.Cosign(img.Digest, ".sig")
	subject, _ := v1.NewHash(img.Digest)
	listed, err := s.Referrers(t.Context(), subject)
	if err != nil || len(listed) != 1 || listed[0].Digest.String() != sbom.Digest || listed[0].ArtifactType != "application/vnd.example.sbom" {
		t.Fatalf("Referrers = %+v, %v", listed, err)
	}
	if d, err := s.Resolve(t.Context(), registrytest.CosignTag(img.Digest, ".sig")); err != nil || d.Digest.String() != sig.Digest {
		t.Fatalf("the cosign tag: %+v, %v", d, err)
	}

	// Another entry of the same manifest keeps everything.
	if err := s.Tag(t.Context(), "other", img.Descriptor(), img.Raw); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(t.Context(), "1.0", subject); err != nil {
		t.Fatal(err)
	}
	if listed, _ := s.Referrers(t.Context(), subject); len(listed) != 1 {
		t.Fatalf("the referrers went with one of two entries: %v", listed)
	}
	if err := s.Delete(t.Context(), "other", subject); err != nil {
		t.Fatal(err)
	}
	entries, err := s.entries()
	files, _ := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	if err != nil || len(entries) != 0 || len(files) != 0 {
		t.Fatalf("after deleting both entries: %+v, %d blobs, %v", entries, len(files), err)
	}
	if err := s.Delete(t.Context(), "1.0", subject); err != nil {
		t.Fatalf("deleting what is gone: %v", err)
	}
}

// TestTagReplacesTheEntryOfItsName: a ref names one entry, as a tag does.
func TestTagReplacesTheEntryOfItsName(t *testing.T) {
	s, _, _ := written(t)
	w := registrytest.Into(t, s)
	other := w.HandImage("linux/arm64", false)
	if err := s.Tag(t.Context(), "1.0", other.Descriptor(), other.Raw); err != nil {
		t.Fatal(err)
	}
	entries, err := s.entries()
	if err != nil || len(entries) != 1 || entries[0].Digest.String() != other.Digest || entries[0].Annotations[store.AnnotationRefName] != "1.0" {
		t.Fatalf("entries %+v, %v", entries, err)
	}
	// Untagged: an entry without ref name, once.
	for range 2 {
		if err := s.Tag(t.Context(), "", other.Descriptor(), other.Raw); err != nil {
			t.Fatal(err)
		}
	}
	if entries, _ = s.entries(); len(entries) != 2 || entries[1].Annotations[store.AnnotationRefName] != "" || entries[1].MediaType != types.OCIManifestSchema1 {
		t.Fatalf("entries %+v", entries)
	}
}
