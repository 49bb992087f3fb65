package mirror

// Test content for the engine tests: in-process registries (go-containerregistry's
// pkg/registry) and images, attestations and indexes whose JSON is written by hand, so the tests
// prove that bytes travel unchanged (odd key order, extra white space, unknown fields).

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// testRegistry is an in-process registry that records the requests it serves. A hook may answer
// a request instead of the registry.
type testRegistry struct {
	srv  *httptest.Server
	host string

	mu   sync.Mutex
	reqs []recordedRequest
	hook func(w http.ResponseWriter, r *http.Request) bool
}

type recordedRequest struct {
	Method, Path, ContentType string
}

func newTestRegistry(t testing.TB) *testRegistry {
	t.Helper()
	r := &testRegistry{}
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.reqs = append(r.reqs, recordedRequest{Method: req.Method, Path: req.URL.Path, ContentType: req.Header.Get("Content-Type")})
		hook := r.hook
		r.mu.Unlock()
		if hook != nil && hook(w, req) {
			return
		}
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(r.srv.Close)
	r.host = strings.TrimPrefix(r.srv.URL, "http://")
	return r
}

func (r *testRegistry) setHook(h func(w http.ResponseWriter, r *http.Request) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hook = h
}

// requests returns the recorded requests and forgets them.
func (r *testRegistry) requests() []recordedRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.reqs
	r.reqs = nil
	return out
}

// getRaw reads a manifest as a client would, returning its bytes and Content-Type.
func (r *testRegistry) getRaw(t testing.TB, repo, reference string) ([]byte, string, int) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, r.srv.URL+"/v2/"+repo+"/manifests/"+reference, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", strings.Join([]string{
		string(types.OCIImageIndex), string(types.OCIManifestSchema1),
		string(types.DockerManifestList), string(types.DockerManifestSchema2),
	}, ","))
	resp, err := r.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b, resp.Header.Get("Content-Type"), resp.StatusCode
}

// deleteRaw sends DELETE /v2/<repo>/manifests/<reference> through the registry API.
func (r *testRegistry) deleteRaw(t testing.TB, repo, reference string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodDelete, r.srv.URL+"/v2/"+repo+"/manifests/"+reference, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := r.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE %s@%s: HTTP %d", repo, reference, resp.StatusCode)
	}
}

// testRepo pushes content into one repository and remembers the size of everything it pushed.
type testRepo struct {
	t    testing.TB
	reg  *testRegistry
	path string
	repo name.Repository
}

func (r *testRegistry) repo(t testing.TB, path string) *testRepo {
	t.Helper()
	repo, err := name.NewRepository(r.host + "/" + path)
	if err != nil {
		t.Fatal(err)
	}
	return &testRepo{t: t, reg: r, path: path, repo: repo}
}

// name is host/path, plus the suffix (":tag" or "@digest").
func (r *testRepo) name(suffix string) string { return r.repo.Name() + suffix }

func (r *testRepo) pushBlob(data []byte, mt types.MediaType) v1.Descriptor {
	r.t.Helper()
	return r.pushLayer(static.NewLayer(data, mt))
}

func (r *testRepo) pushLayer(l v1.Layer) v1.Descriptor {
	r.t.Helper()
	if err := remote.WriteLayer(r.repo, l); err != nil {
		r.t.Fatal(err)
	}
	d, err := l.Digest()
	if err != nil {
		r.t.Fatal(err)
	}
	size, err := l.Size()
	if err != nil {
		r.t.Fatal(err)
	}
	mt, err := l.MediaType()
	if err != nil {
		r.t.Fatal(err)
	}
	return v1.Descriptor{MediaType: mt, Digest: d, Size: size}
}

func (r *testRepo) randomLayer(mt types.MediaType) v1.Descriptor {
	r.t.Helper()
	l, err := random.Layer(200, mt)
	if err != nil {
		r.t.Fatal(err)
	}
	return r.pushLayer(l)
}

// pushManifest pushes raw manifest bytes by digest, and by tag too when tag is not empty. It
// returns the digest.
func (r *testRepo) pushManifest(tag string, raw []byte, mt types.MediaType) string {
	r.t.Helper()
	digest := sha256Digest(raw)
	if err := remote.Put(r.repo.Digest(digest), rawManifest{raw, mt}); err != nil {
		r.t.Fatalf("pushing %s: %v", digest, err)
	}
	if tag != "" {
		if err := remote.Put(r.repo.Tag(tag), rawManifest{raw, mt}); err != nil {
			r.t.Fatalf("tagging %s: %v", tag, err)
		}
	}
	return digest
}

// testImage is one pushed image (or attestation) manifest.
type testImage struct {
	Platform  string // os/arch[/variant]; "" for an attestation
	Digest    string
	MediaType types.MediaType
	Raw       []byte
	Blobs     []v1.Descriptor // config, then layers
}

// image pushes an image for platform with one random layer of its own plus the shared layers.
// docker selects Docker schema 2 media types, else OCI.
func (r *testRepo) image(platform string, docker bool, shared ...v1.Descriptor) testImage {
	r.t.Helper()
	p, err := ParsePlatform(platform)
	if err != nil {
		r.t.Fatal(err)
	}
	mt, configMT, layerMT := types.OCIManifestSchema1, types.OCIConfigJSON, types.OCILayer
	if docker {
		mt, configMT, layerMT = types.DockerManifestSchema2, types.DockerConfigJSON, types.DockerLayer
	}
	config := fmt.Sprintf(`{"architecture":%q,"os":%q,"variant":%q,"rootfs":{"type":"layers","diff_ids":[]},"config":{}}`,
		p.Architecture, p.OS, p.Variant)
	blobs := []v1.Descriptor{r.pushBlob([]byte(config), configMT), r.randomLayer(layerMT)}
	blobs = append(blobs, shared...)
	return r.pushImage(platform, mt, blobs)
}

// attestation pushes a BuildKit-style attestation manifest. Every attestation has the same
// config blob, so Size must count it once.
func (r *testRepo) attestation() testImage {
	r.t.Helper()
	config := r.pushBlob([]byte(`{"architecture":"unknown","os":"unknown","config":{},"rootfs":{"type":"layers","diff_ids":[]}}`), types.OCIConfigJSON)
	statement := make([]byte, 64)
	_, _ = rand.Read(statement)
	layer := r.pushBlob([]byte(`{"_type":"https://in-toto.io/Statement/v0.1","nonce":"`+hex.EncodeToString(statement)+`"}`), "application/vnd.in-toto+json")
	return r.pushImage("", types.OCIManifestSchema1, []v1.Descriptor{config, layer})
}

func (r *testRepo) pushImage(platform string, mt types.MediaType, blobs []v1.Descriptor) testImage {
	r.t.Helper()
	var b strings.Builder
	// Odd key order and white space on purpose.
	fmt.Fprintf(&b, "{\n   \"mediaType\" : %q,\n  \"schemaVersion\":2,\n \"config\": %s,\n\t\"layers\": [", mt, descJSON(blobs[0]))
	for i, l := range blobs[1:] {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n      " + descJSON(l))
	}
	b.WriteString("\n  ]\n}\n")
	raw := []byte(b.String())
	return testImage{Platform: platform, Digest: r.pushManifest("", raw, mt), MediaType: mt, Raw: raw, Blobs: blobs}
}

func descJSON(d v1.Descriptor) string {
	return fmt.Sprintf(`{"size": %d, "digest": %q, "mediaType": %q}`, d.Size, d.Digest, d.MediaType)
}

// entry is one entry of a hand-written index.
type entry struct {
	MediaType   types.MediaType
	Digest      string
	Size        int
	Platform    string // os/arch[/variant], "unknown/unknown", or "" for none
	Annotations string // raw JSON object, or ""
}

func imageEntry(img testImage) entry {
	return entry{MediaType: img.MediaType, Digest: img.Digest, Size: len(img.Raw), Platform: img.Platform}
}

func attestationEntry(att, of testImage) entry {
	return entry{
		MediaType: att.MediaType, Digest: att.Digest, Size: len(att.Raw), Platform: "unknown/unknown",
		Annotations: fmt.Sprintf(`{ "vnd.docker.reference.type" : "attestation-manifest", "vnd.docker.reference.digest":%q }`, of.Digest),
	}
}

func indexEntry(raw []byte, mt types.MediaType) entry {
	return entry{MediaType: mt, Digest: sha256Digest(raw), Size: len(raw)}
}

// indexJSON writes an index by hand: odd key order, extra white space, unknown fields at the top
// and in every entry.
func indexJSON(mt types.MediaType, entries ...entry) []byte {
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
	fmt.Fprintf(&b, "\n  ],\n  \"schemaVersion\" :  2,\n  \"mediaType\": %q,\n  \"annotations\": {\"org.opencontainers.image.created\": \"2024-01-01T00:00:00Z\"}\n}\n", mt)
	return []byte(b.String())
}

// indexFixture is an index of three platforms (linux/amd64, linux/arm64/v8, linux/arm/v7) whose
// amd64 and arm64 images share a layer. The OCI variant adds a BuildKit attestation per image;
// the Docker variant is a manifest list of schema 2 images without attestations.
type indexFixture struct {
	repo   *testRepo
	tag    string
	images []testImage // amd64, arm64/v8, arm/v7
	atts   []testImage // attestation of images[i], OCI only
	shared v1.Descriptor
	index  []byte
	mt     types.MediaType
	digest string
}

func newIndexFixture(t testing.TB, reg *testRegistry, path string, docker bool) *indexFixture {
	t.Helper()
	repo := reg.repo(t, path)
	f := &indexFixture{repo: repo, tag: "v1", mt: types.OCIImageIndex}
	layerMT := types.OCILayer
	if docker {
		f.mt, layerMT = types.DockerManifestList, types.DockerLayer
	}
	f.shared = repo.randomLayer(layerMT)
	f.images = []testImage{
		repo.image("linux/amd64", docker, f.shared),
		repo.image("linux/arm64/v8", docker, f.shared),
		repo.image("linux/arm/v7", docker),
	}
	var entries []entry
	for _, img := range f.images {
		entries = append(entries, imageEntry(img))
	}
	if !docker {
		for _, img := range f.images {
			att := repo.attestation()
			f.atts = append(f.atts, att)
			entries = append(entries, attestationEntry(att, img))
		}
	}
	f.index = indexJSON(f.mt, entries...)
	f.digest = repo.pushManifest(f.tag, f.index, f.mt)
	return f
}

func (f *indexFixture) ref() string { return f.repo.name(":" + f.tag) }

// expectedSize counts every distinct manifest and blob once: the raw manifests given plus the
// manifests and blobs of the images given.
func expectedSize(raws [][]byte, imgs ...testImage) int64 {
	sizes := map[string]int64{}
	for _, raw := range raws {
		sizes[sha256Digest(raw)] = int64(len(raw))
	}
	for _, img := range imgs {
		sizes[img.Digest] = int64(len(img.Raw))
		for _, b := range img.Blobs {
			sizes[b.Digest.String()] = b.Size
		}
	}
	var total int64
	for _, s := range sizes {
		total += s
	}
	return total
}

func testEngine() *Engine { return New(WithJobs(3)) }
