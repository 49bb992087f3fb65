package registrytest

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Endpoint is the address of a registry (or of a [Proxy] in front of one) and what a
// client needs to talk to it. [Registry] and [Proxy] embed it.
type Endpoint struct {
	// Host is "127.0.0.1:<port>".
	Host string
	// CAPEM is the PEM-encoded CA certificate that signed the server certificate; nil when
	// the endpoint serves plain HTTP.
	CAPEM []byte
	// Username and Password are the htpasswd credentials; empty without authentication.
	Username, Password string

	transport *http.Transport
}

func newEndpoint(host string, caPEM []byte, username, password string) (Endpoint, error) {
	base, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return Endpoint{}, errors.New("http.DefaultTransport is not an *http.Transport")
	}
	t := base.Clone()
	if caPEM != nil {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return Endpoint{}, errors.New("no certificate in the CA PEM")
		}
		t.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	return Endpoint{Host: host, CAPEM: caPEM, Username: username, Password: password, transport: t}, nil
}

// URL returns the base URL, "http://<host>" or "https://<host>".
func (e *Endpoint) URL() string {
	if e.CAPEM != nil {
		return "https://" + e.Host
	}
	return "http://" + e.Host
}

// Ref returns "<host>/<path>", e.g. e.Ref("library/nginx:1.27").
func (e *Endpoint) Ref(path string) string {
	return e.Host + "/" + path
}

// Transport returns an HTTP transport that trusts CAPEM (if any). It sends no credentials.
func (e *Endpoint) Transport() http.RoundTripper {
	return e.transport
}

// RemoteOptions returns the go-containerregistry options that reach this endpoint: the
// [Endpoint.Transport] and, with authentication, the basic credentials. Pass them to the
// Push*, [Fetch], [Exists] and [Delete] helpers.
func (e *Endpoint) RemoteOptions() []remote.Option {
	auth := authn.Anonymous
	if e.Username != "" {
		auth = &authn.Basic{Username: e.Username, Password: e.Password}
	}
	return []remote.Option{remote.WithTransport(e.transport), remote.WithAuth(auth)}
}
