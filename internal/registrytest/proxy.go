package registrytest

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Kind classifies registry API requests by the path.
type Kind string

// Request kinds.
const (
	KindManifest  Kind = "manifest"  // /v2/<name>/manifests/<reference>
	KindBlob      Kind = "blob"      // /v2/<name>/blobs/<digest>
	KindUpload    Kind = "upload"    // /v2/<name>/blobs/uploads/…
	KindTags      Kind = "tags"      // /v2/<name>/tags/list
	KindReferrers Kind = "referrers" // /v2/<name>/referrers/<digest>
	KindOther     Kind = "other"     // anything else, e.g. GET /v2/
)

// apiPath captures the repository of a registry API path and the part that decides its Kind.
// The repository name is matched lazily: it may contain slashes.
var apiPath = regexp.MustCompile(`^/v2/(.+?)/(manifests|blobs/uploads|blobs|tags|referrers)(/|$)`)

var kinds = map[string]Kind{
	"manifests":     KindManifest,
	"blobs/uploads": KindUpload,
	"blobs":         KindBlob,
	"tags":          KindTags,
	"referrers":     KindReferrers,
}

// classify returns the Kind of a request path and the repository it is about ("" for
// KindOther).
func classify(path string) (Kind, string) {
	if m := apiPath.FindStringSubmatch(path); m != nil {
		return kinds[m[2]], m[1]
	}
	return KindOther, ""
}

// Call is a class of requests that a [Proxy] counts.
type Call struct {
	Method string // e.g. http.MethodHead
	Kind   Kind
}

// FaultAction is what a [Fault] does to a matching request.
type FaultAction int

// Fault actions.
const (
	// FaultStatus answers Fault.Status (503 when zero) with a registry error body, without
	// forwarding the request. Fault.RetryAfter sets the Retry-After header.
	FaultStatus FaultAction = iota
	// FaultReset forwards the request and drops the connection after Fault.Offset bytes
	// of the response body: the client sees an unexpected EOF.
	FaultReset
	// FaultTruncate forwards the request and ends the response body cleanly after
	// Fault.Offset bytes, with a Content-Length to match: the client sees a short body.
	FaultTruncate
	// FaultCorrupt forwards the request and inverts the byte at Fault.Offset of the
	// response body, keeping its length.
	FaultCorrupt
	// FaultDelay forwards the request unchanged, after Fault.Delay.
	FaultDelay
	// FaultHeader forwards the request and sets Fault.Header on the response, e.g. another
	// Docker-Content-Digest.
	FaultHeader
	// FaultExtend forwards the request and appends Fault.Body to the response body, with a
	// Content-Length to match: the client sees a long body.
	FaultExtend
)

// Fault describes a failure that a [Proxy] injects into matching requests.
type Fault struct {
	// Method matches the request method; empty matches every method.
	Method string
	// Path is a regular expression that must match the request path (e.g.
	// "/manifests/"); empty matches every path. An invalid expression panics.
	Path string
	// Times is how many matching requests fail; 0 means all of them.
	Times  int
	Action FaultAction
	// Status is the status that FaultStatus answers; 0 means 503.
	Status int
	// RetryAfter is the Retry-After header that FaultStatus sends, e.g. "1"; empty sends
	// none.
	RetryAfter string
	// Offset is the position in the response body where FaultReset, FaultTruncate and
	// FaultCorrupt act; 0 means the middle (half the Content-Length).
	Offset int64
	// Delay is waited before the action, whatever it is.
	Delay time.Duration
	// Body is what FaultStatus answers instead of its registry error body (e.g. another
	// error code), and what FaultExtend appends.
	Body string
	// Header holds the response headers that FaultHeader sets.
	Header map[string]string
}

// activeFault is a Fault with its compiled path and how often it has fired.
type activeFault struct {
	Fault
	path  *regexp.Regexp
	fired int
}

func (f *activeFault) matches(r *http.Request) bool {
	return (f.Times == 0 || f.fired < f.Times) &&
		(f.Method == "" || f.Method == r.Method) &&
		(f.path == nil || f.path.MatchString(r.URL.Path))
}

// Proxy is a reverse proxy in front of a [Registry] that counts requests and injects
// faults. It passes everything else through unchanged, streaming bodies, and rewrites
// upload Locations to itself. In front of a TLS registry, it serves TLS with a
// certificate from the same CA, so [Endpoint.CAPEM] is the registry's; it forwards
// credentials unchanged. Create it with [NewProxy].
type Proxy struct {
	Endpoint

	upstream string        // the registry's base URL
	done     chan struct{} // closed when the test ends, to cut delays short

	mu     sync.Mutex
	counts map[Call]int
	repos  map[string]map[Call]int // repository → its requests
	auths  map[string]int          // Authorization header value ("" for none) → requests
	conns  int                     // connections accepted
	faults []*activeFault
}

// faultKey is the request context key of the Fault that modifies the response.
type faultKey struct{}

var errInjectedReset = errors.New("registrytest: injected connection reset")

// NewProxy starts a proxy in front of upstream on 127.0.0.1 at a free port. It is closed
// when the test ends.
func NewProxy(tb testing.TB, upstream *Registry) *Proxy {
	tb.Helper()
	target, err := url.Parse(upstream.URL())
	if err != nil {
		tb.Fatalf("registrytest: registry URL: %v", err)
	}
	p := &Proxy{upstream: upstream.URL(), done: make(chan struct{}), counts: map[Call]int{}, repos: map[string]map[Call]int{}, auths: map[string]int{}}
	quiet := log.New(io.Discard, "", 0) // injected faults make the servers complain
	rp := &httputil.ReverseProxy{
		Rewrite:        func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport:      upstream.transport,
		FlushInterval:  -1, // stream every write, so that a reset cuts where it says
		ModifyResponse: p.modifyResponse,
		ErrorLog:       quiet,
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.serve(w, r, rp)
	}))
	srv.Config.ErrorLog = quiet
	srv.Config.ConnState = p.countConnection
	if p.Endpoint, err = newEndpoint(srv.Listener.Addr().String(), upstream.CAPEM, upstream.Username, upstream.Password); err != nil {
		srv.Close()
		tb.Fatalf("registrytest: %v", err)
	}
	if upstream.ca != nil {
		cert, err := upstream.ca.Issue()
		if err != nil {
			srv.Close()
			tb.Fatalf("registrytest: proxy certificate: %v", err)
		}
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
		srv.StartTLS()
	} else {
		srv.Start()
	}
	tb.Cleanup(func() {
		close(p.done)
		srv.Close()
		p.transport.CloseIdleConnections()
	})
	return p
}

// Counts returns how many requests of each method and kind the proxy received since it
// started or since [Proxy.Reset], faulted ones included.
func (p *Proxy) Counts() map[Call]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.counts)
}

// Count returns Counts()[Call{method, kind}].
func (p *Proxy) Count(method string, kind Kind) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[Call{Method: method, Kind: kind}]
}

// RepositoryCounts returns, like [Proxy.Counts], the requests about one repository (its
// manifests, blobs, uploads, tags and referrers).
func (p *Proxy) RepositoryCounts(repository string) map[Call]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.repos[repository])
}

// Connections returns how many connections the proxy accepted since it started or since
// [Proxy.Reset]: with keep-alive, far fewer than requests.
func (p *Proxy) Connections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conns
}

func (p *Proxy) countConnection(_ net.Conn, state http.ConnState) {
	if state == http.StateNew {
		p.mu.Lock()
		p.conns++
		p.mu.Unlock()
	}
}

// Authorizations returns how many requests the proxy received with each Authorization
// header value ("" counts the requests without one) since it started or since
// [Proxy.Reset], for tests that check which credentials reach which host.
func (p *Proxy) Authorizations() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.auths)
}

// Reset sets every count (requests, per repository, Authorization headers, connections) to
// zero. Faults stay.
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.counts)
	clear(p.repos)
	clear(p.auths)
	p.conns = 0
}

// AddFault adds a fault rule. For each request, the first rule (in the order they were
// added) that matches and has not fired Times times yet fires.
func (p *Proxy) AddFault(f Fault) {
	af := &activeFault{Fault: f}
	if f.Path != "" {
		af.path = regexp.MustCompile(f.Path)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = append(p.faults, af)
}

// ClearFaults removes every fault rule.
func (p *Proxy) ClearFaults() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = nil
}

// record counts r and returns the fault that fires for it, if any.
func (p *Proxy) record(r *http.Request) (Fault, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	kind, repo := classify(r.URL.Path)
	call := Call{Method: r.Method, Kind: kind}
	p.counts[call]++
	if repo != "" {
		if p.repos[repo] == nil {
			p.repos[repo] = map[Call]int{}
		}
		p.repos[repo][call]++
	}
	p.auths[r.Header.Get("Authorization")]++
	for _, f := range p.faults {
		if f.matches(r) {
			f.fired++
			return f.Fault, true
		}
	}
	return Fault{}, false
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request, rp *httputil.ReverseProxy) {
	f, ok := p.record(r)
	if !ok {
		rp.ServeHTTP(w, r)
		return
	}
	select {
	case <-time.After(f.Delay):
	case <-r.Context().Done():
		return
	case <-p.done:
		return
	}
	if f.Action == FaultStatus {
		writeFaultStatus(w, f)
		return
	}
	rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), faultKey{}, f)))
}

// writeFaultStatus answers as a registry does, with an error body.
func writeFaultStatus(w http.ResponseWriter, f Fault) {
	status := cmp.Or(f.Status, http.StatusServiceUnavailable)
	code := map[int]string{
		http.StatusTooManyRequests:    "TOOMANYREQUESTS",
		http.StatusServiceUnavailable: "UNAVAILABLE",
	}[status]
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if f.Body != "" {
		_, _ = io.WriteString(w, f.Body)
		return
	}
	fmt.Fprintf(w, `{"errors":[{"code":%q,"message":"injected by registrytest"}]}`+"\n", cmp.Or(code, "UNKNOWN"))
}

// modifyResponse points upload Locations at the proxy and applies the fault of the
// request, if any, to the response body.
func (p *Proxy) modifyResponse(resp *http.Response) error {
	if loc, ok := strings.CutPrefix(resp.Header.Get("Location"), p.upstream); ok {
		resp.Header.Set("Location", p.URL()+loc)
	}
	f, ok := resp.Request.Context().Value(faultKey{}).(Fault)
	if !ok {
		return nil
	}
	offset := cmp.Or(f.Offset, resp.ContentLength/2)
	switch f.Action {
	case FaultReset:
		resp.Body = &failingBody{ReadCloser: resp.Body, left: offset}
	case FaultTruncate:
		if resp.ContentLength >= 0 {
			offset = min(offset, resp.ContentLength)
		}
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.LimitReader(resp.Body, offset), resp.Body}
		resp.ContentLength = offset
		resp.Header.Set("Content-Length", strconv.FormatInt(offset, 10))
	case FaultCorrupt:
		resp.Body = &corruptingBody{ReadCloser: resp.Body, at: offset}
	case FaultHeader:
		for k, v := range f.Header {
			resp.Header.Set(k, v)
		}
	case FaultExtend:
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(resp.Body, strings.NewReader(f.Body)), resp.Body}
		if resp.ContentLength >= 0 {
			resp.ContentLength += int64(len(f.Body))
			resp.Header.Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
		}
	}
	return nil
}

// failingBody fails with errInjectedReset after left bytes; the reverse proxy then aborts
// the connection.
type failingBody struct {
	io.ReadCloser
	left int64
}

func (b *failingBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errInjectedReset
	}
	n, err := b.ReadCloser.Read(p[:min(int64(len(p)), b.left)])
	b.left -= int64(n)
	return n, err
}

// corruptingBody inverts the byte at offset at.
type corruptingBody struct {
	io.ReadCloser
	at int64 // relative to the next byte read
}

func (b *corruptingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if 0 <= b.at && b.at < int64(n) {
		p[b.at] ^= 0xff
	}
	b.at -= int64(n)
	return n, err
}
