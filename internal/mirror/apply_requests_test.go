package mirror_test

// Request accounting of Apply against real distribution registries, counted by proxies in
// front of them: what a no-op moves, when blobs are mounted instead of uploaded, and how often
// registries are pinged.

import (
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/zarf-dev/terraform-provider-zarf/internal/mirror"
	"github.com/zarf-dev/terraform-provider-zarf/internal/registry"
	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
)

// requestsFixture: a source and a target registry, each behind a counting proxy, and an index
// of three platforms (three layers each, so 12 blobs with the configs) at the source.
type requestsFixture struct {
	src, dst   *registrytest.Registry
	srcP, dstP *registrytest.Proxy
	index      string // source ref, through the proxy
	blobs      int    // distinct blobs of the index
	images     int    // image manifests of the index
	hosts      []string
	sent       *recorder
}

func newRequestsFixture(t *testing.T) *requestsFixture {
	t.Helper()
	t.Parallel()
	f := &requestsFixture{src: registrytest.Start(t), dst: registrytest.Start(t)}
	f.srcP, f.dstP = registrytest.NewProxy(t, f.src), registrytest.NewProxy(t, f.dst)
	var images []registrytest.ImageSpec
	for _, p := range []string{"linux/amd64", "linux/arm64", "linux/arm/v7"} {
		images = append(images, registrytest.ImageSpec{Platform: p, Layers: []int64{3000, 2000, 1000}})
	}
	registrytest.PushIndex(t, f.src.Ref("app/web:1.0"), registrytest.IndexSpec{Images: images})
	f.index = f.srcP.Ref("app/web:1.0")
	f.images, f.blobs = len(images), len(images)*4
	f.hosts = []string{f.src.Host, f.dst.Host, f.srcP.Host, f.dstP.Host}
	f.sent = &recorder{next: http.DefaultTransport.(*http.Transport).Clone()}
	t.Cleanup(f.sent.next.(*http.Transport).CloseIdleConnections)
	return f
}

// engine returns a new Engine on a new registry.Client, as a provider instance has, whose
// requests f.sent records.
func (f *requestsFixture) engine(t *testing.T) *mirror.Engine {
	t.Helper()
	c, err := registry.New(registry.Config{
		InsecureRegistries: f.hosts,
		Keychain:           authn.NewMultiKeychain(), // anonymous, whatever the Docker config says
		Transport:          f.sent,
	})
	if err != nil {
		t.Fatal(err)
	}
	return mirror.New(mirror.WithScheme(c), mirror.WithJobs(3))
}

func (f *requestsFixture) reset() {
	f.srcP.Reset()
	f.dstP.Reset()
	f.sent.reset()
}

func mirrorOnce(t *testing.T, e *mirror.Engine, spec mirror.Spec) mirror.Stats {
	t.Helper()
	p, err := e.Plan(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.Apply(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// uploads counts the requests of blob uploads (POST, PATCH and PUT under /blobs/uploads/).
func uploads(p *registrytest.Proxy) int {
	return p.Count(http.MethodPost, registrytest.KindUpload) + p.Count(http.MethodPatch, registrytest.KindUpload) +
		p.Count(http.MethodPut, registrytest.KindUpload)
}

// TestApplyNoopMovesNothing: applying again what the target holds makes no upload and no
// manifest PUT, reads no blob, and asks only for the tag and the image manifests (HEAD), both
// with the Engine that copied and with a new one (a later provider process).
func TestApplyNoopMovesNothing(t *testing.T) {
	f := newRequestsFixture(t)
	spec := mirror.Spec{Source: f.index, Target: f.dstP.Ref("mirror/web")}
	e := f.engine(t)
	st := mirrorOnce(t, e, spec)
	if st.BlobsUploaded != f.blobs || st.BytesUploaded != st.BlobBytes || st.ManifestsPushed != f.images+1 || !st.Tagged {
		t.Fatalf("first apply: %+v", st)
	}
	for _, tc := range []struct {
		name   string
		engine *mirror.Engine
	}{{"same engine", e}, {"new engine", f.engine(t)}} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.engine.Plan(t.Context(), spec)
			if err != nil {
				t.Fatal(err)
			}
			f.reset()
			st, err := tc.engine.Apply(t.Context(), p)
			if err != nil {
				t.Fatal(err)
			}
			counts := f.dstP.Counts()
			if n := uploads(f.dstP); n != 0 {
				t.Errorf("no-op apply made %d upload requests: %v", n, counts)
			}
			if n := f.dstP.Count(http.MethodPut, registrytest.KindManifest); n != 0 {
				t.Errorf("no-op apply pushed %d manifests: %v", n, counts)
			}
			if n := f.dstP.Count(http.MethodHead, registrytest.KindBlob) + f.dstP.Count(http.MethodGet, registrytest.KindBlob); n != 0 {
				t.Errorf("no-op apply asked the target for %d blobs: %v", n, counts)
			}
			// The tag and the images; the tag stands for the index.
			if n := f.dstP.Count(http.MethodHead, registrytest.KindManifest); n != f.images+1 {
				t.Errorf("no-op apply made %d manifest HEADs, want %d: %v", n, f.images+1, counts)
			}
			if src := f.srcP.Counts(); len(src) != 0 {
				t.Errorf("no-op apply sent requests to the source: %v", src)
			}
			want := mirror.Stats{Blobs: f.blobs, BlobBytes: st.BlobBytes, BlobsSkipped: f.blobs, ManifestsSkipped: f.images + 1}
			if st != want {
				t.Errorf("stats %+v, want %+v", st, want)
			}
		})
	}
}

// TestApplyRestoresDeletedManifest: a no-op except for one image manifest deleted at the
// target (drift, repaired by a later terraform run: a new Engine) pushes that manifest only;
// its blobs are found with HEAD requests, not uploaded, and the tag, which points at the index,
// is left alone.
func TestApplyRestoresDeletedManifest(t *testing.T) {
	f := newRequestsFixture(t)
	spec := mirror.Spec{Source: f.index, Target: f.dstP.Ref("mirror/web")}
	mirrorOnce(t, f.engine(t), spec)
	e := f.engine(t)
	p, err := e.Plan(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	deleted := p.Manifests[1].Digest
	registrytest.Delete(t, f.dst.Ref("mirror/web@"+deleted))
	f.reset()
	st, err := e.Apply(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if n := uploads(f.dstP); n != 0 {
		t.Errorf("%d upload requests: %v", n, f.dstP.Counts())
	}
	if got := f.sent.find(http.MethodPut, "/manifests/"); len(got) != 1 || !strings.HasSuffix(got[0].path, "/"+deleted) {
		t.Errorf("manifest PUTs %v, want the deleted manifest only", got)
	}
	if n := f.dstP.Count(http.MethodHead, registrytest.KindBlob); n != 4 {
		t.Errorf("%d blob HEADs, want the 4 blobs of the restored image", n)
	}
	want := mirror.Stats{Blobs: f.blobs, BlobBytes: st.BlobBytes, BlobsSkipped: f.blobs, ManifestsPushed: 1, ManifestsSkipped: f.images}
	if st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
	if !registrytest.Exists(t, f.dst.Ref("mirror/web@"+deleted)) {
		t.Error("the deleted manifest was not restored")
	}
}

// TestApplyMountsAcrossRepositories: a target registry that holds the blobs in another
// repository gets them by cross-repository mounts (POST ?mount=…&from=… answered 201 Created),
// never by upload: from a repository this Engine copied them to before, and from the source
// repository when source and target share the registry.
func TestApplyMountsAcrossRepositories(t *testing.T) {
	f := newRequestsFixture(t)
	e := f.engine(t)
	mirrorOnce(t, e, mirror.Spec{Source: f.index, Target: f.dstP.Ref("team-a/web")})

	cases := []struct {
		name   string
		engine *mirror.Engine
		spec   mirror.Spec
		from   string
	}{
		// From another registry; this Engine copied the blobs to team-a/web before.
		{"copied before", e, mirror.Spec{Source: f.index, Target: f.dstP.Ref("team-b/web")}, "team-a/web"},
		// Within the target registry, with a new Engine: from the source repository.
		{"same registry", f.engine(t), mirror.Spec{Source: f.dstP.Ref("team-a/web:1.0"), Target: f.dstP.Ref("team-c/web")}, "team-a/web"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.engine.Plan(t.Context(), tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			f.reset()
			st, err := tc.engine.Apply(t.Context(), p)
			if err != nil {
				t.Fatal(err)
			}
			mounts := 0
			for _, r := range f.sent.find(http.MethodPost, "/blobs/uploads/") {
				if r.query.Get("mount") == "" || r.query.Get("from") != tc.from || r.status != http.StatusCreated {
					t.Errorf("POST %s?%s answered %d, want a mount from %s answered 201", r.path, r.query.Encode(), r.status, tc.from)
					continue
				}
				mounts++
			}
			if mounts != f.blobs {
				t.Errorf("%d blobs mounted, want %d", mounts, f.blobs)
			}
			if n := f.dstP.Count(http.MethodPatch, registrytest.KindUpload) + f.dstP.Count(http.MethodPut, registrytest.KindUpload); n != 0 {
				t.Errorf("%d PATCH or PUT upload requests: %v", n, f.dstP.Counts())
			}
			if n := f.srcP.Count(http.MethodGet, registrytest.KindBlob); n != 0 {
				t.Errorf("%d blobs read from the source", n)
			}
			if st.BlobsMounted != f.blobs || st.BlobsUploaded != 0 || st.BytesUploaded != 0 || st.BlobsSkipped != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// TestApplyReusesConnectionsAndTokens: the resources of one provider instance share pings,
// tokens and connections: a second mirror into a repository the Engine has used makes no
// ping (GET /v2/), so no token exchange either.
func TestApplyReusesConnectionsAndTokens(t *testing.T) {
	f := newRequestsFixture(t)
	e := f.engine(t)
	mirrorOnce(t, e, mirror.Spec{Source: f.index, Target: f.dstP.Ref("mirror/web")})
	f.reset()
	st := mirrorOnce(t, e, mirror.Spec{Source: f.index, Target: f.dstP.Ref("mirror/web:stable")})
	if !st.Tagged || st.ManifestsPushed != 0 {
		t.Fatalf("stats %+v", st)
	}
	for name, p := range map[string]*registrytest.Proxy{"source": f.srcP, "target": f.dstP} {
		if n := p.Count(http.MethodGet, registrytest.KindOther); n != 0 {
			t.Errorf("%s pinged %d times", name, n)
		}
	}
}

// recorder is an HTTP transport that records requests and their answers.
type recorder struct {
	next http.RoundTripper

	mu       sync.Mutex
	requests []sentRequest
}

type sentRequest struct {
	method, path string
	query        url.Values
	status       int
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	s := sentRequest{method: req.Method, path: req.URL.Path, query: req.URL.Query()}
	if resp != nil {
		s.status = resp.StatusCode
	}
	r.mu.Lock()
	r.requests = append(r.requests, s)
	r.mu.Unlock()
	return resp, err
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = nil
}

// find returns the recorded requests with this method whose path contains part.
func (r *recorder) find(method, part string) []sentRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []sentRequest
	for _, s := range r.requests {
		if s.method == method && strings.Contains(s.path, part) {
			out = append(out, s)
		}
	}
	return out
}

// TestEngineNoopRequests: the exact requests of an engine no-op (Plan + Apply into a target that
// holds everything, what Create does when the content is already there). A new Engine (a new
// provider process) asks the source for the index and each image manifest (GET: plan reads what
// it shows and would copy) and the target for the tag and each image manifest (HEAD: apply
// restores a child deleted under an intact tag), after one API version check per registry. An
// Engine that read the source before asks it only for the tag's index: manifests by digest do
// not change.
func TestEngineNoopRequests(t *testing.T) {
	f := newRequestsFixture(t)
	spec := mirror.Spec{Source: f.index, Target: f.dstP.Ref("mirror/web")}
	warm := f.engine(t)
	mirrorOnce(t, warm, spec)
	manifests := f.images + 1
	for _, tc := range []struct {
		name           string
		engine         *mirror.Engine
		pings, fromSrc int
	}{{"new engine", f.engine(t), 1, manifests}, {"warm engine", warm, 0, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			f.reset()
			if st := mirrorOnce(t, tc.engine, spec); st.ManifestsPushed != 0 || st.BlobsUploaded != 0 || st.Tagged {
				t.Fatalf("not a no-op: %+v", st)
			}
			want := func(m string, n int) map[registrytest.Call]int {
				w := map[registrytest.Call]int{{Method: m, Kind: registrytest.KindManifest}: n}
				if tc.pings > 0 {
					w[registrytest.Call{Method: http.MethodGet, Kind: registrytest.KindOther}] = tc.pings
				}
				return w
			}
			if got, want := f.srcP.Counts(), want(http.MethodGet, tc.fromSrc); !maps.Equal(got, want) {
				t.Errorf("source requests %v, want %v", got, want)
			}
			if got, want := f.dstP.Counts(), want(http.MethodHead, manifests); !maps.Equal(got, want) {
				t.Errorf("target requests %v, want %v", got, want)
			}
		})
	}
}
