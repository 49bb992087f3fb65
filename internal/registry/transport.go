package registry

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// PlainHTTPError reports plain HTTP with a host that is not listed in insecure_registries.
type PlainHTTPError struct {
	// Host is the host[:port] concerned.
	Host string
	// Answered is true when the host answered an HTTPS request in plain HTTP, false when a
	// plain HTTP request to it was refused before anything was sent.
	Answered bool
	// Err is the TLS error behind Answered, nil otherwise.
	Err error
	// Near is the insecure_registries entry that names the same host with another port, or
	// without one ("127.0.0.1" for 127.0.0.1:5000); empty when there is none.
	Near string
}

func (e *PlainHTTPError) Error() string {
	what := "registry " + e.Host + " answered over plain HTTP"
	if !e.Answered {
		what = "refused to contact registry " + e.Host + " over plain HTTP"
	}
	if e.Near != "" {
		return fmt.Sprintf("%s; it is not listed in insecure_registries, which lists %q: the port is part of the host, "+
			"so list %q there if it really serves plain HTTP", what, e.Near, e.Host)
	}
	return what + "; it is not listed in insecure_registries; add it there if it really serves plain HTTP"
}

func (e *PlainHTTPError) Unwrap() error { return e.Err }

// hostPolicy is the innermost RoundTripper: it applies insecure_registries per host and keeps
// credentials from following a redirect to another host.
type hostPolicy struct {
	insecure   map[string]bool
	verified   http.RoundTripper // HTTPS with verification against the system roots and ca_pem
	unverified http.RoundTripper // for listed hosts: no verification
}

// newHostPolicy builds the per-host transports. A non-nil base replaces both (test seam).
func newHostPolicy(s *settings, base http.RoundTripper) *hostPolicy {
	p := &hostPolicy{insecure: s.insecure, verified: base, unverified: base}
	if base == nil {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		for _, cert := range s.certs {
			pool.AddCert(cert)
		}
		p.verified = newHTTPTransport(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
		// Only hosts listed in insecure_registries use this one.
		p.unverified = newHTTPTransport(&tls.Config{InsecureSkipVerify: true}) //nolint:gosec // insecure_registries
	}
	return p
}

// newHTTPTransport is http.DefaultTransport's configuration with more idle connections per
// host (transfers run in parallel against one or two hosts) and a bound on waiting for
// response headers, so a stuck registry fails instead of hanging terraform.
func newHTTPTransport(tlsConfig *tls.Config) *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   50,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: 5 * time.Minute,
		TLSClientConfig:       tlsConfig,
	}
}

// RoundTrip refuses plain HTTP to unlisted hosts (go-containerregistry tries plain HTTP for
// localhost and private addresses on its own), turns "server gave HTTP response to HTTPS
// client" from an unlisted host into a PlainHTTPError, and sends the request through the
// transport its host calls for.
func (p *hostPolicy) RoundTrip(req *http.Request) (*http.Response, error) {
	listed := p.insecure[normaliseHost(req.URL.Host)]
	if req.URL.Scheme == "http" && !listed {
		if req.Body != nil {
			_ = req.Body.Close() // a RoundTripper closes the body, also on errors
		}
		return nil, &PlainHTTPError{Host: req.URL.Host, Near: p.nearlyListed(req.URL)}
	}
	rt := p.verified
	if listed {
		rt = p.unverified
	}
	resp, err := rt.RoundTrip(withoutForwardedAuthorization(req))
	var record tls.RecordHeaderError
	if err != nil && !listed && errors.As(err, &record) && string(record.RecordHeader[:]) == "HTTP/" {
		return nil, &PlainHTTPError{Host: req.URL.Host, Answered: true, Err: err, Near: p.nearlyListed(req.URL)}
	}
	return resp, err
}

// nearlyListed returns the insecure_registries entry (normalised) that names the host of u with
// another port or none, the usual slip when a registry listens on a port; empty when none does.
func (p *hostPolicy) nearlyListed(u *url.URL) string {
	hostname := strings.ToLower(u.Hostname())
	for entry := range p.insecure {
		name := entry
		if h, _, err := net.SplitHostPort(entry); err == nil {
			name = h
		}
		if strings.Trim(name, "[]") == hostname {
			return entry
		}
	}
	return ""
}

// withoutForwardedAuthorization drops the Authorization header from a redirected request to
// another host when it is the one sent to the previous host. go-containerregistry sets
// credentials only for the registry itself, but net/http copies an Authorization header set on
// the first request to any redirect target with the same host name, whatever its port.
func withoutForwardedAuthorization(req *http.Request) *http.Request {
	if req.Response == nil || req.Response.Request == nil {
		return req
	}
	prev := req.Response.Request
	auth := req.Header.Get("Authorization")
	if auth == "" || prev.URL.Host == req.URL.Host || prev.Header.Get("Authorization") != auth {
		return req
	}
	clone := req.Clone(req.Context())
	clone.Header.Del("Authorization")
	return clone
}
