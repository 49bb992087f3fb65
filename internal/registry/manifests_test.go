package registry

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

const testManifest = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}`

// guarded is a plain HTTP server behind the Client's transport; handle answers every request.
func guarded(t *testing.T, handle http.HandlerFunc) (*httptest.Server, *http.Client) {
	t.Helper()
	srv := httptest.NewServer(handle)
	t.Cleanup(srv.Close)
	st, err := Config{InsecureRegistries: []string{strings.TrimPrefix(srv.URL, "http://")}, Sleep: (&sleepRecorder{}).Sleep}.settings()
	if err != nil {
		t.Fatal(err)
	}
	return srv, &http.Client{Transport: newTransport(st, nil)}
}

func sha256Hex(s string) string {
	d, _ := digestOf(strings.NewReader(s))
	return d
}

// TestManifestTooLarge: a manifest over the limit fails without being read, whether the answer
// declares its length or not.
func TestManifestTooLarge(t *testing.T) {
	const size = 64 << 20
	for _, declared := range []bool{true, false} {
		t.Run("Content-Length "+strconv.FormatBool(declared), func(t *testing.T) {
			var written atomic.Int64
			srv, client := guarded(t, func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
				if declared {
					w.Header().Set("Content-Length", strconv.Itoa(size))
				}
				chunk := make([]byte, 32<<10)
				for written.Load() < size {
					n, err := w.Write(chunk)
					written.Add(int64(n))
					if err != nil {
						return
					}
				}
			})
			_, err := client.Get(srv.URL + "/v2/big/manifests/v1")
			var tooLarge *ManifestTooLargeError
			if !errors.As(err, &tooLarge) || !strings.Contains(err.Error(), "4 MiB") {
				t.Fatalf("err = %v, want a ManifestTooLargeError", err)
			}
			if declared != (tooLarge.Size == size) {
				t.Errorf("Size = %d", tooLarge.Size)
			}
			srv.CloseClientConnections()
			// What the server could write before the client hung up: socket buffers, plus the
			// limit when the length is not declared.
			if w := written.Load(); w >= size/2 {
				t.Errorf("the server wrote %d bytes of %d: the body was read", w, size)
			}
		})
	}
	t.Run("at the limit", func(t *testing.T) {
		body := strings.Repeat(" ", store.MaxManifestBytes)
		srv, client := guarded(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, body) })
		resp, err := client.Get(srv.URL + "/v2/big/manifests/v1")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if got, _ := io.ReadAll(resp.Body); len(got) != store.MaxManifestBytes {
			t.Fatalf("read %d bytes", len(got))
		}
	})
}

func TestManifestDigestHeader(t *testing.T) {
	right := sha256Hex(testManifest)
	wrong := sha256Hex("other")
	for name, tc := range map[string]struct {
		header, contentType string
		ok                  bool
	}{
		"matches":   {right, "application/vnd.oci.image.manifest.v1+json", true},
		"absent":    {"", "application/vnd.oci.image.manifest.v1+json", true},
		"other alg": {"sha512:" + strings.Repeat("0", 128), "application/vnd.oci.image.manifest.v1+json", true},
		"schema 1":  {wrong, "application/vnd.docker.distribution.manifest.v1+prettyjws", true},
		"differs":   {wrong, "application/vnd.oci.image.manifest.v1+json", false},
	} {
		t.Run("GET "+name, func(t *testing.T) {
			srv, client := guarded(t, func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				if tc.header != "" {
					w.Header().Set("Docker-Content-Digest", tc.header)
				}
				_, _ = io.WriteString(w, testManifest)
			})
			resp, err := client.Get(srv.URL + "/v2/app/manifests/v1")
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				if got, _ := io.ReadAll(resp.Body); string(got) != testManifest || resp.ContentLength != int64(len(testManifest)) {
					t.Fatalf("body %q, length %d", got, resp.ContentLength)
				}
				return
			}
			var mismatch *ManifestDigestError
			if !errors.As(err, &mismatch) || mismatch.Header != wrong || mismatch.Bytes != right {
				t.Fatalf("err = %v, want a ManifestDigestError", err)
			}
		})
	}
	for name, tc := range map[string]struct {
		header string
		ok     bool
	}{"matches": {right, true}, "absent": {"", true}, "differs": {wrong, false}} {
		t.Run("PUT "+name, func(t *testing.T) {
			srv, client := guarded(t, func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				if tc.header != "" {
					w.Header().Set("Docker-Content-Digest", tc.header)
				}
				w.WriteHeader(http.StatusCreated)
			})
			req, _ := http.NewRequest(http.MethodPut, srv.URL+"/v2/app/manifests/v1", bytes.NewBufferString(testManifest))
			resp, err := client.Do(req)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return
			}
			var mismatch *ManifestDigestError
			if !errors.As(err, &mismatch) || mismatch.Method != http.MethodPut || !strings.Contains(err.Error(), "did not store the bytes unchanged") {
				t.Fatalf("err = %v, want a ManifestDigestError", err)
			}
		})
	}
}

// TestManifestBodyDropIsRetried: a connection that breaks in the middle of a manifest is retried
// like one that breaks before the answer.
func TestManifestBodyDropIsRetried(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	srv, client := guarded(t, func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		calls++
		first := calls == 1
		mu.Unlock()
		w.Header().Set("Content-Length", strconv.Itoa(len(testManifest)))
		if first {
			_, _ = io.WriteString(w, testManifest[:10])
			panic(http.ErrAbortHandler) // drops the connection
		}
		_, _ = io.WriteString(w, testManifest)
	})
	resp, err := client.Get(srv.URL + "/v2/app/manifests/v1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if got, _ := io.ReadAll(resp.Body); string(got) != testManifest || calls != 2 {
		t.Fatalf("body %q after %d requests", got, calls)
	}
}

// TestErrorBodyIsBounded: an error answer with a huge body keeps its status and code.
func TestErrorBodyIsBounded(t *testing.T) {
	body := `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}` + strings.Repeat(" ", 1<<20)
	srv, client := guarded(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, body)
	})
	resp, err := client.Get(srv.URL + "/v2/app/manifests/v1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	err = transport.CheckError(resp, http.StatusOK)
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusNotFound || len(terr.Errors) != 1 || Classify(err) != NotFound {
		t.Fatalf("err = %v, want a 404 with MANIFEST_UNKNOWN", err)
	}
}
