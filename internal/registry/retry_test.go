package registry

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// scripted is a plain HTTP server that answers request n with statuses[n] (the last one
// repeating); 0 drops the connection without an answer. It records the request bodies.
type scripted struct {
	*httptest.Server
	retryAfter string

	mu       sync.Mutex
	statuses []int
	bodies   []string
}

func newScripted(t *testing.T, retryAfter string, statuses ...int) *scripted {
	t.Helper()
	s := &scripted{statuses: statuses, retryAfter: retryAfter}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		n := len(s.bodies)
		s.bodies = append(s.bodies, string(body))
		status := s.statuses[min(n, len(s.statuses)-1)]
		s.mu.Unlock()
		if status == 0 {
			hijacker, ok := w.(http.Hijacker)
			if !ok {
				panic("the test server cannot drop connections")
			}
			if conn, _, err := hijacker.Hijack(); err == nil {
				_ = conn.Close()
			}
			return
		}
		if s.retryAfter != "" {
			w.Header().Set("Retry-After", s.retryAfter)
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *scripted) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bodies...)
}

// httpClient is an http.Client over the Client's transport for cfg, with s listed as insecure.
func (s *scripted) httpClient(t *testing.T, cfg Config) *http.Client {
	t.Helper()
	cfg.InsecureRegistries = append(cfg.InsecureRegistries, strings.TrimPrefix(s.URL, "http://"))
	st, err := cfg.settings()
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: newTransport(st, nil)}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	now := time.Now()
	for name, tc := range map[string]struct {
		header   string
		min, max time.Duration
	}{
		"seconds":    {"7", 7 * time.Second, 7 * time.Second},
		"capped":     {"3600", MaxRetryAfter, MaxRetryAfter},
		"http-date":  {now.Add(30 * time.Second).UTC().Format(http.TimeFormat), 28 * time.Second, 30 * time.Second},
		"past date":  {now.Add(-time.Hour).UTC().Format(http.TimeFormat), 0, 0},
		"far date":   {now.Add(time.Hour).UTC().Format(http.TimeFormat), MaxRetryAfter, MaxRetryAfter},
		"unparsable": {"soon", baseBackoff / 2, baseBackoff},
	} {
		t.Run(name, func(t *testing.T) {
			srv := newScripted(t, tc.header, http.StatusTooManyRequests, http.StatusOK)
			var sleeps sleepRecorder
			resp, err := srv.httpClient(t, Config{Sleep: sleeps.Sleep}).Get(srv.URL + "/v2/")
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			got := sleeps.recorded()
			if resp.StatusCode != http.StatusOK || len(got) != 1 || got[0] < tc.min || got[0] > tc.max {
				t.Fatalf("status %d after waits %v; want 200 after one wait in [%v, %v]", resp.StatusCode, got, tc.min, tc.max)
			}
		})
	}
}

func TestRetryOn5xxThenSuccess(t *testing.T) {
	srv := newScripted(t, "", http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusOK)
	var sleeps sleepRecorder
	resp, err := srv.httpClient(t, Config{Sleep: sleeps.Sleep}).Get(srv.URL + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	got := sleeps.recorded()
	if resp.StatusCode != http.StatusOK || len(srv.requests()) != 3 || len(got) != 2 {
		t.Fatalf("status %d after %d requests and waits %v", resp.StatusCode, len(srv.requests()), got)
	}
	// Exponential backoff with jitter: [0.5s, 1s], then [1s, 2s].
	if got[0] < 500*time.Millisecond || got[0] > time.Second || got[1] < time.Second || got[1] > 2*time.Second {
		t.Errorf("waits %v, want one in [0.5s, 1s] then one in [1s, 2s]", got)
	}
}

func TestNoRetryOnClientErrors(t *testing.T) {
	for _, status := range []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound} {
		srv := newScripted(t, "1", status)
		var sleeps sleepRecorder
		resp, err := srv.httpClient(t, Config{Sleep: sleeps.Sleep}).Get(srv.URL + "/v2/")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != status || len(srv.requests()) != 1 || len(sleeps.recorded()) != 0 {
			t.Errorf("%d: got status %d after %d requests", status, resp.StatusCode, len(srv.requests()))
		}
	}
}

func TestRetriesExhausted(t *testing.T) {
	srv := newScripted(t, "", http.StatusServiceUnavailable)
	var sleeps sleepRecorder
	_, err := srv.httpClient(t, Config{MaxRetries: intPtr(3), Sleep: sleeps.Sleep}).Get(srv.URL + "/v2/")
	var re *RetryError
	var terr *transport.Error
	if !errors.As(err, &re) || re.Attempts != 4 || !errors.As(err, &terr) || terr.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("got %v, want a RetryError after 4 attempts wrapping the 503", err)
	}
	if !strings.Contains(err.Error(), "giving up after 4 attempts") || len(srv.requests()) != 4 || len(sleeps.recorded()) != 3 {
		t.Errorf("got %v after %d requests and %d waits", err, len(srv.requests()), len(sleeps.recorded()))
	}
	if Classify(err) != Unavailable {
		t.Errorf("Classify = %d, want Unavailable", Classify(err))
	}
}

func TestZeroMaxRetriesDisablesRetries(t *testing.T) {
	srv := newScripted(t, "", http.StatusServiceUnavailable)
	var sleeps sleepRecorder
	_, err := srv.httpClient(t, Config{MaxRetries: intPtr(0), Sleep: sleeps.Sleep}).Get(srv.URL + "/v2/")
	var re *RetryError
	if !errors.As(err, &re) || re.Attempts != 1 || len(srv.requests()) != 1 || len(sleeps.recorded()) != 0 {
		t.Fatalf("got %v after %d requests, want one attempt", err, len(srv.requests()))
	}
}

func TestDroppedConnectionsAreRetried(t *testing.T) {
	srv := newScripted(t, "", 0, 0, http.StatusOK)
	var sleeps sleepRecorder
	// POST is not retried by net/http itself, so every retry here is ours.
	resp, err := srv.httpClient(t, Config{Sleep: sleeps.Sleep}).Post(srv.URL+"/v2/app/blobs/uploads/", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(srv.requests()) != 3 {
		t.Fatalf("status %d after %d requests", resp.StatusCode, len(srv.requests()))
	}
	for _, err := range []error{io.ErrUnexpectedEOF, io.EOF, syscall.ECONNRESET, syscall.EPIPE} {
		if !retryable(nil, err) {
			t.Errorf("%v is not retried", err)
		}
	}
	for _, err := range []error{syscall.ECONNREFUSED, context.DeadlineExceeded, &PlainHTTPError{Host: "x"}} {
		if retryable(nil, err) {
			t.Errorf("%v is retried", err)
		}
	}
}

func TestOnlyReplayableRequestsAreRetried(t *testing.T) {
	var sleeps sleepRecorder
	t.Run("body with GetBody", func(t *testing.T) {
		srv := newScripted(t, "", http.StatusServiceUnavailable, http.StatusCreated)
		resp, err := srv.httpClient(t, Config{Sleep: sleeps.Sleep}).Post(srv.URL+"/token", "text/plain", bytes.NewReader([]byte("payload")))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if got := srv.requests(); resp.StatusCode != http.StatusCreated || len(got) != 2 || got[1] != "payload" {
			t.Fatalf("status %d, bodies %q", resp.StatusCode, got)
		}
	})
	t.Run("streaming body", func(t *testing.T) {
		srv := newScripted(t, "", http.StatusServiceUnavailable, http.StatusCreated)
		_, err := srv.httpClient(t, Config{Sleep: sleeps.Sleep}).Post(srv.URL+"/upload", "text/plain", io.MultiReader(strings.NewReader("stream")))
		var re *RetryError
		if !errors.As(err, &re) || re.Attempts != 1 || re.replayable || len(srv.requests()) != 1 {
			t.Fatalf("got %v after %d requests, want one attempt", err, len(srv.requests()))
		}
	})
	t.Run("PATCH", func(t *testing.T) {
		srv := newScripted(t, "", http.StatusServiceUnavailable, http.StatusAccepted)
		req, err := http.NewRequest(http.MethodPatch, srv.URL+"/v2/app/blobs/uploads/1", bytes.NewReader([]byte("chunk")))
		if err != nil {
			t.Fatal(err)
		}
		_, err = srv.httpClient(t, Config{Sleep: sleeps.Sleep}).Do(req)
		if !restartUpload(err) || len(srv.requests()) != 1 {
			t.Fatalf("got %v after %d requests, want one attempt and a restart of the upload", err, len(srv.requests()))
		}
	})
}

func TestCancellationDuringBackoffReturnsPromptly(t *testing.T) {
	srv := newScripted(t, "60", http.StatusTooManyRequests) // default Sleep: a real timer
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/v2/", nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = srv.httpClient(t, Config{}).Do(req)
	if !errors.Is(err, context.Canceled) || time.Since(start) > 5*time.Second {
		t.Fatalf("got %v after %v, want context.Canceled within moments", err, time.Since(start))
	}
}

// TestRetriesAreNotMultiplied: go-containerregistry's own retries must not repeat what the
// retry transport already repeated.
func TestRetriesAreNotMultiplied(t *testing.T) {
	var (
		mu        sync.Mutex
		manifests int
	)
	reg := newPlainRegistry(t, withIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.Contains(r.URL.Path, "/manifests/") {
			return false
		}
		mu.Lock()
		manifests++
		mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	}))
	var sleeps sleepRecorder
	c := newClient(t, Config{InsecureRegistries: []string{reg.host()}, MaxRetries: intPtr(2), Sleep: sleeps.Sleep})
	ref, err := c.ParseReference(reg.host() + "/flaky/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = remote.Get(ref, c.RemoteOptions(t.Context())...)
	mu.Lock()
	defer mu.Unlock()
	if manifests != 3 {
		t.Errorf("the registry received %d manifest requests, want 3 (1 + max_retries)", manifests)
	}
	explained := c.Explain(err, ref.String())
	if Classify(err) != Unavailable || !strings.Contains(explained.Error(), "giving up after 3 attempts") ||
		!strings.Contains(explained.Error(), "registry "+reg.host()+" is unavailable") {
		t.Errorf("Explain = %v", explained)
	}
}

// TestBlobUploadRestartsAfterFailedPatch: a PATCH of blob data is not repeated as such; the
// whole upload is restarted by go-containerregistry instead.
func TestBlobUploadRestartsAfterFailedPatch(t *testing.T) {
	var (
		mu             sync.Mutex
		posts, patches int
	)
	reg := newPlainRegistry(t, withIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		switch r.Method {
		case http.MethodPost:
			posts++
		case http.MethodPatch:
			patches++
			if patches == 1 {
				_, _ = io.Copy(io.Discard, r.Body)
				w.WriteHeader(http.StatusServiceUnavailable)
				return true
			}
		}
		return false
	}))
	c := newClient(t, Config{InsecureRegistries: []string{reg.host()}, Sleep: (&sleepRecorder{}).Sleep})
	repo, err := c.ParseRepository(reg.host() + "/upload/app")
	if err != nil {
		t.Fatal(err)
	}
	layer, err := random.Layer(4096, "application/octet-stream")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteLayer(repo, layer, c.RemoteOptions(t.Context())...); err != nil {
		t.Fatalf("WriteLayer: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if posts != 2 || patches != 2 {
		t.Errorf("%d upload sessions and %d PATCHes, want 2 and 2", posts, patches)
	}
}

// TestRestartUploadOnlyForUnrepeatableRequests: go-containerregistry asks restartUpload both in
// its transport retry and in its upload loop; it must decline whatever was already retried.
func TestRestartUploadOnlyForUnrepeatableRequests(t *testing.T) {
	for err, want := range map[error]bool{
		&RetryError{Attempts: 1, Err: syscall.ECONNRESET}:                   true,
		&RetryError{Attempts: 6, Err: syscall.ECONNRESET, replayable: true}: false,
		syscall.ECONNRESET: false,
		&transport.Error{StatusCode: http.StatusServiceUnavailable}: false,
		nil: false,
	} {
		if got := restartUpload(err); got != want {
			t.Errorf("restartUpload(%#v) = %v, want %v", err, got, want)
		}
	}
}
