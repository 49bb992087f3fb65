package registrytest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// TestImplementationCapabilities checks the declared capabilities of every implementation
// against the running registry, and what every implementation must accept: indexes of
// either family and image manifests with a subject, served back byte for byte.
func TestImplementationCapabilities(t *testing.T) {
	t.Parallel()
	for _, impl := range Implementations() {
		t.Run(impl.Name, func(t *testing.T) {
			t.Parallel()
			reg := impl.Start(t)
			t.Logf("%s: %s", reg.Name, impl.Description)
			specs := []ImageSpec{
				{Platform: "linux/amd64", Layers: []int64{100}, Seed: 1},
				{Platform: "linux/arm64/v8", Layers: []int64{100}, Seed: 2},
				{Platform: "linux/arm/v7", Layers: []int64{100}, Seed: 3},
			}
			images := PushImages(t, reg.Ref("probe/app"), specs, types.OCIManifestSchema1)
			var observed []string

			// Every registry accepts complete indexes of both families, byte for byte.
			checkRoundTrip(t, reg.Ref("probe/app:oci"), types.OCIImageIndex, MarshalIndex(t, types.OCIImageIndex, images))
			docker := PushImages(t, reg.Ref("probe/app"), specs, types.DockerManifestSchema2)
			checkRoundTrip(t, reg.Ref("probe/app:docker"), types.DockerManifestList, MarshalIndex(t, types.DockerManifestList, docker))

			// Sparse indexes: an index over four platforms, some of whose manifests are absent.
			for _, held := range [][]string{{"linux/amd64", "linux/arm64/v8", "linux/arm/v7"}, {"linux/arm/v7"}} {
				entries := make([]v1.Descriptor, 0, 4)
				for _, img := range images {
					if !slices.Contains(held, img.Platform.String()) {
						img.Digest.Hex = strings.Repeat("0", 63) + fmt.Sprint(len(entries))
					}
					entries = append(entries, img)
				}
				entries = append(entries, absent(images[0], "s390x"))
				err := remote.Put(mustReference(t, reg.Ref("probe/app:sparse")),
					store.RawManifest{Bytes: MarshalIndex(t, types.OCIImageIndex, entries), Type: types.OCIImageIndex}, remote.WithContext(t.Context()))
				want := impl.Caps.AcceptsIndexHolding(held...)
				observed = append(observed, fmt.Sprintf("sparse index holding only %s: %s", strings.Join(held, ", "), answer(err)))
				if accepted := err == nil; accepted != want {
					t.Errorf("sparse index holding only %v: accepted = %t, declared %t (%v)", held, accepted, want, err)
				}
			}

			// An index with an entry without platform (as a nested index has).
			platformless := images[0]
			platformless.Platform = nil
			err := putManifest(t, reg, "probe/app", "platformless", types.OCIImageIndex, MarshalIndex(t, types.OCIImageIndex, []v1.Descriptor{platformless}))
			observed = append(observed, "index with an entry without platform: "+answer(err))
			if accepted := err == nil; accepted != impl.Caps.PlatformlessEntries {
				t.Errorf("index with an entry without platform: accepted = %t, declared PlatformlessEntries = %t (%v)", accepted, impl.Caps.PlatformlessEntries, err)
			}

			// A referrer (OCI 1.1 subject and artifactType), pushed without the fallback tag
			// (an index without platforms), then the referrers API.
			subject := images[0]
			referrer := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":%q,"artifactType":"application/vnd.example.sig","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2,"data":"e30="},"layers":[{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2}],"subject":{"mediaType":%q,"digest":%q,"size":%d}}`,
				types.OCIManifestSchema1, subject.MediaType, subject.Digest, subject.Size)
			At(t, reg.Ref("probe/app")).Blob([]byte("{}"), "application/vnd.oci.empty.v1+json")
			referrerDigest, _, _ := v1.SHA256(bytes.NewReader(referrer))
			if err := putManifest(t, reg, "probe/app", referrerDigest.String(), types.OCIManifestSchema1, referrer); err != nil {
				t.Errorf("pushing a manifest with a subject: %v", err)
			} else if got, _ := Fetch(t, reg.Ref("probe/app@"+referrerDigest.String())); !bytes.Equal(got, referrer) {
				t.Errorf("the manifest with a subject came back changed:\n%s", got)
			}
			status, contentType := getStatus(t, reg, "/v2/probe/app/referrers/"+subject.Digest.String())
			hasAPI := status == http.StatusOK && strings.HasPrefix(contentType, string(types.OCIImageIndex))
			observed = append(observed, fmt.Sprintf("GET referrers: %d %s", status, contentType))
			if hasAPI != impl.Caps.ReferrersAPI {
				t.Errorf("referrers API: GET answered %d %q; declared ReferrersAPI = %t", status, contentType, impl.Caps.ReferrersAPI)
			}

			// Deletes: the manifest by digest, then see whether its tag survives.
			victim := PushImage(t, reg.Ref("probe/app:victim"), ImageSpec{Platform: "linux/amd64", Layers: []int64{10}, Seed: 7}, "")
			err = remote.Delete(mustReference(t, reg.Ref("probe/app@"+victim.Digest.String())), remote.WithContext(t.Context()))
			observed = append(observed, "DELETE manifest by digest: "+answer(err))
			if deleted := err == nil; deleted != impl.Caps.Deletes {
				t.Errorf("DELETE by digest: deleted = %t, declared Deletes = %t (%v)", deleted, impl.Caps.Deletes, err)
			}
			if err == nil {
				if Exists(t, reg.Ref("probe/app@"+victim.Digest.String())) {
					t.Errorf("the manifest still exists by digest after DELETE")
				}
				observed = append(observed, fmt.Sprintf("its tag after the DELETE: exists = %t", Exists(t, reg.Ref("probe/app:victim"))))
			} else if !isUnsupported(err) {
				t.Errorf("a refused DELETE should answer 405 UNSUPPORTED: %v", err)
			}
			t.Logf("observed on %s:\n  %s", reg.Name, strings.Join(observed, "\n  "))
		})
	}
}

// TestV2DeletesWhenEnabled documents distribution 2.8 with storage.delete.enabled: true,
// which the matrix does not run (its v2.8 keeps the default, deletes off).
func TestV2DeletesWhenEnabled(t *testing.T) {
	t.Parallel()
	reg := startV2With(t, true)
	img := PushImage(t, reg.Ref("probe/app:victim"), ImageSpec{Platform: "linux/amd64", Layers: []int64{10}}, "")
	Delete(t, reg.Ref("probe/app@"+img.Digest.String()))
	if Exists(t, reg.Ref("probe/app@"+img.Digest.String())) {
		t.Errorf("the manifest still exists by digest after DELETE")
	}
	t.Logf("%s: DELETE by digest accepted; its tag afterwards: exists = %t", reg.Name, Exists(t, reg.Ref("probe/app:victim")))
}

// TestImplementationsCoverEveryCapability fails when a capability value occurs in no
// implementation: a test that needs it would be skipped everywhere.
func TestImplementationsCoverEveryCapability(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		has  func(Capabilities) bool
	}{
		{"sparse indexes accepted", func(c Capabilities) bool { return c.SparseIndexes && len(c.CheckedPlatforms) == 0 }},
		{"sparse indexes accepted for some platforms", func(c Capabilities) bool { return len(c.CheckedPlatforms) > 0 }},
		{"sparse indexes rejected", func(c Capabilities) bool { return !c.SparseIndexes }},
		{"deletes", func(c Capabilities) bool { return c.Deletes }},
		{"no deletes", func(c Capabilities) bool { return !c.Deletes }},
		{"referrers API", func(c Capabilities) bool { return c.ReferrersAPI }},
		{"no referrers API", func(c Capabilities) bool { return !c.ReferrersAPI }},
	} {
		found := false
		for _, impl := range Implementations() {
			found = found || c.has(impl.Caps)
		}
		if !found {
			t.Errorf("no implementation has %s", c.name)
		}
	}
}

func TestAcceptsIndexHolding(t *testing.T) {
	t.Parallel()
	list := Capabilities{SparseIndexes: true, CheckedPlatforms: []string{"linux/amd64", "linux/arm64"}}
	for _, tc := range []struct {
		caps Capabilities
		held []string
		want bool
	}{
		{Capabilities{}, []string{"linux/amd64"}, false},
		{Capabilities{SparseIndexes: true}, nil, true},
		{list, []string{"linux/amd64", "linux/arm64/v8"}, true},
		{list, []string{"linux/amd64", "linux/arm/v7"}, false},
		{list, []string{"linux/arm64"}, false},
	} {
		if got := tc.caps.AcceptsIndexHolding(tc.held...); got != tc.want {
			t.Errorf("%+v.AcceptsIndexHolding(%v) = %t, want %t", tc.caps, tc.held, got, tc.want)
		}
	}
}

// checkRoundTrip pushes raw to ref and fetches it back by digest: same bytes, same type.
func checkRoundTrip(t *testing.T, ref string, mediaType types.MediaType, raw []byte) {
	t.Helper()
	desc := PushRaw(t, ref, mediaType, raw)
	repo, _ := parseRef(t, ref)
	got, gotType := Fetch(t, repo.Digest(desc.Digest.String()).String())
	if string(got) != string(raw) || gotType != mediaType {
		t.Errorf("%s (%s) came back as %s:\n%s\nwant:\n%s", ref, mediaType, gotType, got, raw)
	}
}

// getStatus sends GET path and returns the status and Content-Type.
func getStatus(t *testing.T, reg *Registry, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, reg.URL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", string(types.OCIImageIndex))
	resp, err := reg.Transport().RoundTrip(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Content-Type")
}

// putManifest PUTs raw to /v2/<repo>/manifests/<reference>, once (no retries), and returns
// the registry's error (a *transport.Error) or the connection's.
func putManifest(t *testing.T, reg *Registry, repo, reference string, mediaType types.MediaType, raw []byte) error {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, reg.URL()+"/v2/"+repo+"/manifests/"+reference, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", string(mediaType))
	resp, err := reg.Transport().RoundTrip(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return transport.CheckError(resp, http.StatusCreated)
}

// answer summarises a registry's answer: "accepted", or the status and error codes.
func answer(err error) string {
	var terr *transport.Error
	switch {
	case err == nil:
		return "accepted"
	case errors.As(err, &terr):
		codes := make([]string, 0, len(terr.Errors))
		for _, d := range terr.Errors {
			codes = append(codes, string(d.Code))
		}
		return fmt.Sprintf("rejected, %d %s", terr.StatusCode, strings.Join(codes, ", "))
	case errors.Is(err, io.EOF):
		return "connection closed (EOF)"
	default:
		return "failed: " + err.Error()
	}
}

func isUnsupported(err error) bool {
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusMethodNotAllowed {
		return false
	}
	for _, d := range terr.Errors {
		if d.Code == transport.UnsupportedErrorCode {
			return true
		}
	}
	return false
}
