package registry

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// pingCache answers the registry API version check (GET /v2/ without credentials) from the
// first answer each registry gave, for the life of the Client.
//
// go-containerregistry sends that check before its first request to every repository (for the
// Puller and again for the Pusher), to learn the scheme and the authentication challenge. Both
// are the registry's, not the repository's, so one check per registry is enough: mirroring
// hundreds of repositories of one registry would otherwise cost a request per repository and
// operation (and, for a host listed in insecure_registries that serves plain HTTP, a failed TLS
// handshake on a new connection first). Concurrent first checks of one registry wait for one
// answer.
//
// Only answers that say the same thing every time are kept: 200 (no authentication) and 401
// (its challenge, WWW-Authenticate), and, over HTTPS to a listed host, a plain HTTP answer to the
// TLS handshake (the host serves plain HTTP; go-containerregistry then checks over HTTP, which is
// kept in its turn). Anything else (5xx, dropped or refused connections) is not kept: the next
// check asks again. Authentication itself is untouched: tokens are still requested per scope by
// go-containerregistry, once per repository and Client.
type pingCache struct {
	inner http.RoundTripper

	mu      sync.Mutex
	answers map[string]*pingAnswer // scheme://host → the answer, or the check in flight
}

// pingAnswer is a kept answer, or one in flight until ready is closed.
type pingAnswer struct {
	ready  chan struct{}
	kept   bool // false: the check failed in a way that is not kept; ask again
	status int
	header http.Header
	err    error // a plain HTTP answer to a TLS handshake
}

func newPingCache(inner http.RoundTripper) *pingCache {
	return &pingCache{inner: inner, answers: map[string]*pingAnswer{}}
}

// isPing tells the API version checks that go-containerregistry sends before it authenticates.
func isPing(req *http.Request) bool {
	return req.Method == http.MethodGet && req.URL.Path == "/v2/" && req.URL.RawQuery == "" && req.Header.Get("Authorization") == ""
}

func (c *pingCache) RoundTrip(req *http.Request) (*http.Response, error) {
	if !isPing(req) {
		return c.inner.RoundTrip(req)
	}
	key := req.URL.Scheme + "://" + strings.ToLower(req.URL.Host)
	for {
		c.mu.Lock()
		a, found := c.answers[key]
		if !found {
			a = &pingAnswer{ready: make(chan struct{})}
			c.answers[key] = a
		}
		c.mu.Unlock()
		if !found {
			return c.ask(req, key, a)
		}
		select {
		case <-a.ready:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
		if a.kept {
			return a.response(req)
		}
		// The check in flight failed in a way that is not kept: ask, or wait for another.
		c.mu.Lock()
		if c.answers[key] == a {
			delete(c.answers, key)
		}
		c.mu.Unlock()
	}
}

// ask sends the check and keeps its answer in a when it is one that does not change.
func (c *pingCache) ask(req *http.Request, key string, a *pingAnswer) (*http.Response, error) {
	resp, err := c.inner.RoundTrip(req)
	var record tls.RecordHeaderError
	switch {
	case err != nil && req.URL.Scheme == "https" && errors.As(err, &record) && string(record.RecordHeader[:]) == "HTTP/":
		a.kept, a.err = true, err
	case err == nil && (resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized):
		a.kept, a.status, a.header = true, resp.StatusCode, resp.Header.Clone()
	}
	if !a.kept {
		c.mu.Lock()
		delete(c.answers, key)
		c.mu.Unlock()
	}
	close(a.ready)
	return resp, err
}

// response is the kept answer as a response to req, without a body (the check reads only the
// status and the challenge).
func (a *pingAnswer) response(req *http.Request) (*http.Response, error) {
	if a.err != nil {
		return nil, a.err
	}
	return &http.Response{
		Status:     fmt.Sprintf("%d %s", a.status, http.StatusText(a.status)),
		StatusCode: a.status,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     a.header.Clone(),
		Body:       http.NoBody,
		Request:    req,
	}, nil
}
