package registrytest

import (
	"net/http"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// TestIndexValidation pushes sparse indexes (an entry's manifest absent) to registries
// with each validation mode.
func TestIndexValidation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		opt Option
		// whether an index missing the linux/amd64, resp. linux/arm64, image is accepted
		acceptMissingAMD64, acceptMissingARM64 bool
	}{
		{WithIndexValidation("all"), false, false},
		{WithIndexValidation("none"), true, true},
		{WithIndexValidation("list", "linux/amd64"), false, true},
	} {
		reg := Start(t, tc.opt)
		t.Run(reg.Name, func(t *testing.T) {
			t.Parallel()
			images := PushImages(t, reg.Ref("app"), []ImageSpec{{Platform: "linux/amd64", Layers: []int64{10}}}, "")
			for _, c := range []struct {
				entries []v1.Descriptor
				accept  bool
			}{
				{[]v1.Descriptor{absent(images[0], "amd64")}, tc.acceptMissingAMD64},
				{[]v1.Descriptor{images[0], absent(images[0], "arm64")}, tc.acceptMissingARM64},
			} {
				raw := MarshalIndex(t, types.OCIImageIndex, c.entries)
				ref := mustReference(t, reg.Ref("app:sparse"))
				err := remote.Put(ref, store.RawManifest{Bytes: raw, Type: types.OCIImageIndex}, remote.WithContext(t.Context()))
				if accepted := err == nil; accepted != c.accept {
					t.Errorf("index with %d entries: accepted = %t, want %t (error: %v)", len(c.entries), accepted, c.accept, err)
				}
				if err != nil && !strings.Contains(err.Error(), "MANIFEST_BLOB_UNKNOWN") {
					t.Errorf("rejection without MANIFEST_BLOB_UNKNOWN: %v", err)
				}
			}
		})
	}
}

// absent returns d for linux/<arch> with the digest of content that was never pushed.
func absent(d v1.Descriptor, arch string) v1.Descriptor {
	d.Digest.Hex = strings.Repeat("0", 64)
	d.Platform = &v1.Platform{OS: "linux", Architecture: arch}
	return d
}

func TestTLSAndBasicAuth(t *testing.T) {
	t.Parallel()
	reg := Start(t, WithTLS(), WithBasicAuth("ci", "s3cret"))
	if !strings.HasPrefix(reg.URL(), "https://") || reg.CAPEM == nil {
		t.Fatalf("URL %s, CA %d bytes: want HTTPS with a CA", reg.URL(), len(reg.CAPEM))
	}
	get := func(client *http.Client, user, password string) (int, error) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, reg.URL()+"/v2/", nil)
		if err != nil {
			t.Fatal(err)
		}
		if user != "" {
			req.SetBasicAuth(user, password)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	trusting := &http.Client{Transport: reg.Transport()}
	for _, tc := range []struct {
		user, password string
		want           int
	}{
		{"ci", "s3cret", http.StatusOK},
		{"", "", http.StatusUnauthorized},
		{"ci", "wrong", http.StatusUnauthorized},
	} {
		if got, err := get(trusting, tc.user, tc.password); err != nil || got != tc.want {
			t.Errorf("GET /v2/ as %q: %d, %v; want %d", tc.user, got, err, tc.want)
		}
	}
	if _, err := get(http.DefaultClient, "ci", "s3cret"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("GET /v2/ without the CA: %v; want a certificate error", err)
	}

	desc := PushIndex(t, reg.Ref("secure:v1"), IndexSpec{Images: []ImageSpec{{Platform: "linux/amd64", Layers: []int64{100}}}}, reg.RemoteOptions()...)
	if raw, _ := Fetch(t, reg.Ref("secure@"+desc.Digest.String()), reg.RemoteOptions()...); int64(len(raw)) != desc.Size {
		t.Errorf("fetched %d bytes, pushed %d", len(raw), desc.Size)
	}
}

func TestSettingsCheck(t *testing.T) {
	t.Parallel()
	for _, opt := range []Option{
		WithIndexValidation("some"),
		WithIndexValidation("list"),
		WithIndexValidation("list", "linux/arm/v7"),
		WithIndexValidation("none", "linux/amd64"),
	} {
		s := settings{}
		opt(&s)
		if err := s.check(); err == nil {
			t.Errorf("%+v: no error", s)
		}
	}
}
