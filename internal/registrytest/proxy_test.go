package registrytest

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	type want struct {
		kind Kind
		repo string
	}
	for path, w := range map[string]want{
		"/v2/":                                  {KindOther, ""},
		"/v2/a/b/manifests/v1":                  {KindManifest, "a/b"},
		"/v2/a/blobs/sha256:00":                 {KindBlob, "a"},
		"/v2/a/b/c/blobs/uploads/":              {KindUpload, "a/b/c"},
		"/v2/a/blobs/uploads/2f0c?_state=x":     {KindUpload, "a"},
		"/v2/a/tags/list":                       {KindTags, "a"},
		"/v2/library/nginx/referrers/sha256:00": {KindReferrers, "library/nginx"},
		"/v2/_catalog":                          {KindOther, ""},
	} {
		if kind, repo := classify(path); kind != w.kind || repo != w.repo {
			t.Errorf("classify(%q) = %s, %q; want %s, %q", path, kind, repo, w.kind, w.repo)
		}
	}
}

// TestProxyPassThrough pushes and reads through the proxy (uploads follow rewritten
// Locations) and counts the requests.
func TestProxyPassThrough(t *testing.T) {
	t.Parallel()
	reg := Start(t, WithTLS(), WithBasicAuth("u", "p"))
	proxy := NewProxy(t, reg)
	desc := PushIndex(t, proxy.Ref("app:v1"), IndexSpec{Images: []ImageSpec{{Platform: "linux/amd64", Layers: []int64{1 << 20}}}}, proxy.RemoteOptions()...)
	if n := proxy.Count(http.MethodPatch, KindUpload) + proxy.Count(http.MethodPut, KindUpload); n == 0 {
		t.Errorf("no upload went through the proxy: %v", proxy.Counts())
	}
	requests := 0
	for _, n := range proxy.Counts() {
		requests += n
	}
	if conns := proxy.Connections(); conns < 1 || conns >= requests {
		t.Errorf("%d connections counted for %d requests; want at least one, and fewer than requests (keep-alive)", conns, requests)
	}
	if auths := proxy.Authorizations(); auths["Basic dTpw"] == 0 { // base64("u:p")
		t.Errorf("the proxy saw no request with the credentials; Authorization values: %v", auths)
	}
	if !Exists(t, reg.Ref("app@"+desc.Digest.String()), reg.RemoteOptions()...) {
		t.Fatal("the index pushed through the proxy is not in the registry")
	}

	proxy.Reset()
	if !Exists(t, proxy.Ref("app:v1"), proxy.RemoteOptions()...) {
		t.Fatal("the tag is not visible through the proxy")
	}
	if got := proxy.Count(http.MethodHead, KindManifest); got != 1 {
		t.Errorf("%d HEAD manifest requests, want 1; counts %v", got, proxy.Counts())
	}
	if got := proxy.RepositoryCounts("app"); got[Call{http.MethodHead, KindManifest}] != 1 || len(got) != 1 {
		t.Errorf("requests about the repository app: %v, want one HEAD manifest", got)
	}

	if got := proxy.Counts()[Call{http.MethodPut, KindUpload}]; got != 0 {
		t.Errorf("counts not reset: %v", proxy.Counts())
	}
	if got := proxy.Authorizations()["Basic dTpw"]; got != 1 {
		t.Errorf("%d requests with the credentials after Reset and one HEAD, want 1; %v", got, proxy.Authorizations())
	}
}

// TestProxyFaults fires each fault action against a blob download.
func TestProxyFaults(t *testing.T) {
	t.Parallel()
	reg := Start(t)
	const size = 64 << 10
	image := PushImage(t, reg.Ref("f:v1"), ImageSpec{Layers: []int64{size}}, "")
	raw, _ := Fetch(t, reg.Ref("f:v1"))
	manifest, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	blobURL := "/v2/f/blobs/" + manifest.Layers[0].Digest.String()
	original := get(t, reg.URL()+blobURL)

	for _, tc := range []struct {
		name  string
		fault Fault
		check func(t *testing.T, r result)
	}{
		{"status", Fault{Method: http.MethodGet, Path: "/blobs/", Times: 2, Status: 429, RetryAfter: "1"}, func(t *testing.T, r result) {
			if r.status != 429 || r.header.Get("Retry-After") != "1" || !bytes.Contains(r.body, []byte("TOOMANYREQUESTS")) {
				t.Errorf("got %d %v %s", r.status, r.header, r.body)
			}
		}},
		{"reset", Fault{Path: "/blobs/", Times: 2, Action: FaultReset, Offset: 1000}, func(t *testing.T, r result) {
			if r.err == nil || len(r.body) > 1000 {
				t.Errorf("read %d bytes, error %v; want an error within 1000 bytes", len(r.body), r.err)
			}
		}},
		{"truncate", Fault{Times: 2, Action: FaultTruncate}, func(t *testing.T, r result) {
			if r.err != nil || !bytes.Equal(r.body, original.body[:size/2]) || r.header.Get("Content-Length") != "32768" {
				t.Errorf("read %d bytes (Content-Length %s), error %v; want the first half", len(r.body), r.header.Get("Content-Length"), r.err)
			}
		}},
		{"corrupt", Fault{Times: 2, Action: FaultCorrupt, Offset: 40000}, func(t *testing.T, r result) {
			want := bytes.Clone(original.body)
			want[40000] ^= 0xff
			if r.err != nil || !bytes.Equal(r.body, want) {
				t.Errorf("read %d bytes, error %v; want byte 40000 inverted", len(r.body), r.err)
			}
		}},
		{"delay", Fault{Times: 2, Action: FaultDelay, Delay: 100 * time.Millisecond}, func(t *testing.T, r result) {
			if r.err != nil || r.elapsed < 100*time.Millisecond || !bytes.Equal(r.body, original.body) {
				t.Errorf("read %d bytes in %s, error %v; want all after 100ms", len(r.body), r.elapsed, r.err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			proxy := NewProxy(t, reg)
			proxy.AddFault(Fault{Method: http.MethodGet, Path: "/manifests/", Status: 500}) // does not match blob requests
			proxy.AddFault(tc.fault)
			for i := range 2 {
				tc.check(t, get(t, proxy.URL()+blobURL))
				if t.Failed() {
					t.Fatalf("request %d", i+1)
				}
			}
			if r := get(t, proxy.URL()+blobURL); r.err != nil || r.status != http.StatusOK || !bytes.Equal(r.body, original.body) {
				t.Errorf("third request: %d, %d bytes, %v; want the blob", r.status, len(r.body), r.err)
			}
			if got := proxy.Count(http.MethodGet, KindBlob); got != 3 {
				t.Errorf("%d GET blob requests counted, want 3", got)
			}
			if !Exists(t, proxy.Ref("f@"+image.Digest.String())) {
				t.Error("a HEAD request matched the manifest GET fault")
			}
		})
	}

	t.Run("clear", func(t *testing.T) {
		t.Parallel()
		proxy := NewProxy(t, reg)
		proxy.AddFault(Fault{Status: 500})
		proxy.ClearFaults()
		if r := get(t, proxy.URL()+blobURL); r.status != http.StatusOK {
			t.Errorf("status %d after ClearFaults", r.status)
		}
		if _, mediaType := Fetch(t, proxy.Ref("f:v1")); mediaType != types.OCIManifestSchema1 {
			t.Errorf("media type %s", mediaType)
		}
	})
}

type result struct {
	status  int
	header  http.Header
	body    []byte
	err     error // of the request or of reading the body
	elapsed time.Duration
}

// get downloads url with a fresh connection.
func get(t *testing.T, url string) result {
	t.Helper()
	start := time.Now()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, header: resp.Header, body: body, err: err, elapsed: time.Since(start)}
}
