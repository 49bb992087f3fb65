package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// Kind is what went wrong when talking to a registry.
type Kind int

const (
	// Other is anything that Classify does not recognise.
	Other Kind = iota
	// NotFound: HTTP 404, MANIFEST_UNKNOWN or NAME_UNKNOWN.
	NotFound
	// Unauthorized: HTTP 401 or UNAUTHORIZED, from the registry or its token server.
	Unauthorized
	// Forbidden: HTTP 403 or DENIED.
	Forbidden
	// TLS: the server certificate could not be verified.
	TLS
	// Unreachable: connection refused, DNS failure, or a connection timeout.
	Unreachable
	// PlainHTTP: plain HTTP with a host not listed in insecure_registries.
	PlainHTTP
	// Unavailable: 408, 429 or 5xx, or dropped connections, still after the retries.
	Unavailable
)

// Error is an explained registry error: a message for users in front of the cause that
// decided its Kind. Unwrap gives the whole original error.
type Error struct {
	Kind  Kind
	msg   string
	cause error
	err   error
}

func (e *Error) Error() string { return e.msg + ": " + e.cause.Error() }

func (e *Error) Unwrap() error { return e.err }

// Is makes an error of kind NotFound match store.ErrNotFound, as the store seam promises.
func (e *Error) Is(target error) bool { return target == store.ErrNotFound && e.Kind == NotFound }

// Classify tells what kind of registry error err is.
func Classify(err error) Kind {
	kind, _ := classify(err)
	return kind
}

// classify returns the kind of err and the part of err that decided it. The order matters for
// go-containerregistry's ping of localhost and private addresses, which tries HTTPS and plain
// HTTP at once and returns both errors: what the HTTPS attempt learnt wins over the plain HTTP
// attempt that the host policy refused.
func classify(err error) (Kind, error) {
	var plain *PlainHTTPError
	hasPlain := errors.As(err, &plain)
	if hasPlain && plain.Answered {
		return PlainHTTP, plain
	}
	var retry *RetryError
	if errors.As(err, &retry) {
		return Unavailable, retry
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch {
		case terr.StatusCode == http.StatusNotFound ||
			hasCode(terr, transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode):
			return NotFound, terr
		case terr.StatusCode == http.StatusUnauthorized || hasCode(terr, transport.UnauthorizedErrorCode):
			return Unauthorized, terr
		case terr.StatusCode == http.StatusForbidden || hasCode(terr, transport.DeniedErrorCode):
			return Forbidden, terr
		}
	}
	var (
		verify    *tls.CertificateVerificationError
		authority x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
	)
	switch {
	case errors.As(err, &verify):
		return TLS, verify
	case errors.As(err, &authority):
		return TLS, authority
	case errors.As(err, &hostname):
		return TLS, hostname
	case errors.As(err, &invalid):
		return TLS, invalid
	}
	var (
		dns *net.DNSError
		op  *net.OpError
	)
	switch {
	case errors.As(err, &dns):
		return Unreachable, dns
	case errors.As(err, &op) && op.Op == "dial":
		return Unreachable, op
	case hasPlain:
		return PlainHTTP, plain
	}
	return Other, err
}

func hasCode(terr *transport.Error, codes ...transport.ErrorCode) bool {
	for _, d := range terr.Errors {
		for _, code := range codes {
			if d.Code == code {
				return true
			}
		}
	}
	return false
}

// Explain turns an error of an operation on ref (an image reference or a repository) into an
// *Error whose message says what happened and what to do: it names the registry, the
// repository and, for 401 and 403, which credentials were sent ("credentials from
// registry_auth for <host>", "credentials from the Docker config" or "no credentials
// (anonymous: …)"; never the secret). Errors of kind Other, errors
// already explained, and errors with a ref that does not parse are returned unchanged; nil
// stays nil.
func (c *Client) Explain(err error, ref string) error {
	var done *Error
	if err == nil || errors.As(err, &done) {
		return err
	}
	kind, cause := classify(err)
	reg, repo, ok := c.locate(ref)
	if kind == Other || !ok {
		return err
	}
	host := reg.RegistryStr()
	var msg string
	switch kind {
	case NotFound:
		msg = fmt.Sprintf("%s was not found in registry %s", ref, host)
	case Unauthorized:
		msg = fmt.Sprintf("registry %s refused access to repository %q with %s; check the credentials, "+
			"and that the repository exists (registries also answer 401 for repositories that do not exist)",
			host, repo, c.keychain.source(requestContext(cause), reg))
	case Forbidden:
		msg = fmt.Sprintf("registry %s denied access to repository %q with %s; "+
			"the credentials were accepted but do not allow this operation",
			host, repo, c.keychain.source(requestContext(cause), reg))
	case TLS:
		msg = fmt.Sprintf("the TLS certificate of registry %s could not be verified; add the CA certificate "+
			"that signed it to ca_pem, or list %s in insecure_registries to skip verification", host, host)
	case Unreachable:
		msg = fmt.Sprintf("registry %s is unreachable; check the address, and that the registry is running "+
			"and reachable from this machine", host)
	case PlainHTTP:
		msg = fmt.Sprintf("cannot use registry %s for %s", host, ref)
	case Unavailable:
		msg = fmt.Sprintf("registry %s is unavailable or limiting the request rate; try again later, "+
			"or raise max_retries", host)
	}
	return &Error{Kind: kind, msg: msg, cause: cause, err: err}
}

// requestContext is the context of the request that failed with err, so that looking up which
// credentials it carried (a credential helper may run) ends when the operation is cancelled;
// nil when err carries no request.
func requestContext(err error) context.Context {
	var terr *transport.Error
	if errors.As(err, &terr) && terr.Request != nil {
		return terr.Request.Context()
	}
	return nil
}

// locate finds the registry and repository that ref, an image reference or a repository,
// names.
func (c *Client) locate(ref string) (name.Registry, string, bool) {
	if r, err := c.ParseReference(ref); err == nil {
		return r.Context().Registry, r.Context().RepositoryStr(), true
	}
	if r, err := c.ParseRepository(ref); err == nil {
		return r.Registry, r.RepositoryStr(), true
	}
	return name.Registry{}, "", false
}
