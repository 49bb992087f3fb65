package memory

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

func pushImage(t *testing.T, s *Store, layer string) (v1.Descriptor, []byte) {
	t.Helper()
	cfg := s.PutBlob([]byte(`{"os":"linux","architecture":"amd64"}`), types.OCIConfigJSON)
	l := s.PutBlob([]byte(layer), types.OCILayer)
	raw := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":%d},"layers":[{"mediaType":%q,"digest":%q,"size":%d}]}`,
		types.OCIManifestSchema1, cfg.MediaType, cfg.Digest, cfg.Size, l.MediaType, l.Digest, l.Size))
	d := v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: store.Digest(raw), Size: int64(len(raw))}
	if err := s.PushManifest(context.Background(), d, raw); err != nil {
		t.Fatal(err)
	}
	return d, raw
}

func TestRoundTripAndDelete(t *testing.T) {
	ctx := context.Background()
	s := New("a")
	d, raw := pushImage(t, s, "layer")
	if err := s.Tag(ctx, "v1", v1.Descriptor{Digest: d.Digest, Annotations: map[string]string{"k": "v"}}, raw); err != nil {
		t.Fatal(err)
	}
	got, err := s.Resolve(ctx, "v1")
	if err != nil || got.Digest != d.Digest || got.Annotations["k"] != "v" || got.MediaType != types.OCIManifestSchema1 {
		t.Fatalf("Resolve(v1) = %+v, %v", got, err)
	}
	_, b, err := s.Manifest(ctx, d.Digest.String())
	if err != nil || string(b) != string(raw) {
		t.Fatalf("Manifest = %q, %v", b, err)
	}
	if tags, _ := s.Tags(ctx); len(tags) != 1 || tags[0] != "v1" {
		t.Fatalf("Tags = %v", tags)
	}
	if err := s.Tag(ctx, "v2", d, raw); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "v2", d.Digest); err != nil || !s.HasManifest(d.Digest) {
		t.Fatalf("Delete of a tag while another points at the manifest = %v; manifest kept = %v", err, s.HasManifest(d.Digest))
	}
	if err := s.Delete(ctx, "v1", d.Digest); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resolve(ctx, "v1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after Delete, Resolve(v1) = %v, want ErrNotFound", err)
	}
	if s.Calls(OpResolve) != 2 || s.Calls(OpDelete) != 2 {
		t.Fatalf("calls: Resolve %d, Delete %d", s.Calls(OpResolve), s.Calls(OpDelete))
	}
}

func TestPushManifestRefusesMissingContent(t *testing.T) {
	s := New("a")
	raw := []byte(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":1}]}`)
	err := s.PushManifest(context.Background(), v1.Descriptor{MediaType: types.OCIImageIndex, Digest: store.Digest(raw)}, raw)
	var rejected *store.RejectedError
	if !errors.Is(err, store.ErrNotFound) || !errors.As(err, &rejected) || !rejected.Incomplete || len(rejected.Missing) != 1 {
		t.Fatalf("PushManifest of an index whose child is missing = %v, want a RejectedError naming it", err)
	}
}

func TestPushBlobMountsWithinARegistry(t *testing.T) {
	ctx := context.Background()
	reg := NewRegistry("mem.example")
	src, dst := reg.Repository("src"), reg.Repository("dst")
	b := src.PutBlob([]byte("content"), types.OCILayer)
	got, err := dst.PushBlob(ctx, b, src)
	if err != nil || got.How != store.BlobMounted {
		t.Fatalf("PushBlob from the same registry = %+v, %v; want mounted", got, err)
	}
	other := New("elsewhere")
	got, err = other.PushBlob(ctx, b, src)
	if err != nil || got.How != store.BlobUploaded || got.Uploaded != b.Size {
		t.Fatalf("PushBlob from another registry = %+v, %v; want uploaded", got, err)
	}
	got, err = other.PushBlob(ctx, b, src)
	if err != nil || got.How != store.BlobSkipped {
		t.Fatalf("PushBlob of a present blob = %+v, %v; want skipped", got, err)
	}
	rc, err := other.Blob(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if data, _ := io.ReadAll(rc); string(data) != "content" {
		t.Fatalf("blob = %q", data)
	}
}

func TestReferrersAndFailures(t *testing.T) {
	ctx := context.Background()
	s := New("a")
	subject, _ := pushImage(t, s, "subject")
	empty := s.PutBlob([]byte("{}"), "application/vnd.oci.empty.v1+json")
	raw := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"artifactType":"application/example","config":{"mediaType":%q,"digest":%q,"size":2},"layers":[],"subject":{"mediaType":%q,"digest":%q,"size":%d}}`,
		types.OCIManifestSchema1, empty.MediaType, empty.Digest, subject.MediaType, subject.Digest, subject.Size))
	ref := v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: store.Digest(raw), Size: int64(len(raw))}
	if err := s.PushManifest(ctx, ref, raw); err != nil {
		t.Fatal(err)
	}
	got, err := s.Referrers(ctx, subject.Digest)
	if err != nil || len(got) != 1 || got[0].Digest != ref.Digest || got[0].ArtifactType != "application/example" {
		t.Fatalf("Referrers = %+v, %v", got, err)
	}
	boom := errors.New("boom")
	s.FailWith(func(op Op, _ string) error {
		if op == OpReferrers {
			return boom
		}
		return nil
	})
	if _, err := s.Referrers(ctx, subject.Digest); !errors.Is(err, boom) {
		t.Fatalf("injected failure: %v", err)
	}
	s.DisallowDeletes()
	if err := s.Delete(ctx, "", ref.Digest); !errors.Is(err, store.ErrUnsupported) {
		t.Fatalf("Delete with deletes disallowed = %v", err)
	}
}

func TestOpen(t *testing.T) {
	reg := NewRegistry("src")
	for _, c := range []struct {
		ref          string
		role         store.Role
		repo, name   string
		digest, want string
	}{
		{ref: "memory://src/app", role: store.RoleSource, repo: "memory://src/app", name: "latest"},
		{ref: "memory://src/app", role: store.RoleTarget, repo: "memory://src/app"},
		{ref: "memory://src/a/b:1.0@sha256:" + strings.Repeat("0", 64), role: store.RoleSource, repo: "memory://src/a/b", name: "1.0",
			digest: "sha256:" + strings.Repeat("0", 64)},
		{ref: "memory://src/", role: store.RoleSource, want: "the repository is empty"},
		{ref: "memory://src/a@sha256:x", role: store.RoleSource, want: "digest"},
	} {
		loc, err := reg.Open(c.ref, c.role)
		switch {
		case c.want != "":
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Open(%q) = %v, want an error about %s", c.ref, err, c.want)
			}
		case err != nil || loc.Repository != c.repo || loc.Name != c.name || loc.Digest != c.digest:
			t.Errorf("Open(%q) = %+v, %v", c.ref, loc, err)
		}
	}
}
