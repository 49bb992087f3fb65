package registry

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
)

func TestTLSVerifiedWithCAPEM(t *testing.T) {
	ca := newCA(t)
	reg := newTLSRegistry(t, ca)
	c := newClient(t, Config{CAPEM: ca.PEM()})
	if err := pushAndHead(t, c, reg.host()+"/tls/ok:v1"); err != nil {
		t.Fatalf("push to a registry whose CA is in ca_pem: %v", err)
	}
}

func TestTLSUnknownAuthorityIsExplained(t *testing.T) {
	reg := newTLSRegistry(t, newCA(t))
	c := newClient(t, Config{CAPEM: newCA(t).PEM()}) // another CA
	ref := reg.host() + "/tls/unknown:v1"
	err := pushAndHead(t, c, ref)
	if err == nil {
		t.Fatal("push to a registry with an unknown CA succeeded")
	}
	explained := c.Explain(err, ref)
	if Classify(err) != TLS {
		t.Fatalf("Classify(%v) = %d, want TLS", err, Classify(err))
	}
	for _, want := range []string{"TLS certificate of registry " + reg.host(), "ca_pem", "insecure_registries", "x509"} {
		if !strings.Contains(explained.Error(), want) {
			t.Errorf("Explain: %v\nwant it to mention %q", explained, want)
		}
	}
	var verify *tls.CertificateVerificationError
	if !errors.As(explained, &verify) {
		t.Error("Explain lost the original error chain")
	}
}

func TestInsecureSkipsVerificationOnlyForListedHosts(t *testing.T) {
	listed := newTLSRegistry(t, newCA(t))
	unlisted := newTLSRegistry(t, newCA(t))
	c := newClient(t, Config{InsecureRegistries: []string{listed.host()}})
	if err := pushAndHead(t, c, listed.host()+"/insecure/tls:v1"); err != nil {
		t.Fatalf("listed host with an untrusted certificate: %v", err)
	}
	err := pushAndHead(t, c, unlisted.host()+"/insecure/tls:v1")
	if Classify(err) != TLS {
		t.Fatalf("unlisted host with an untrusted certificate: %v, want a TLS error", err)
	}
}

func TestPlainHTTPRefusedForUnlistedLoopback(t *testing.T) {
	reg := newPlainRegistry(t)
	c := newClient(t, Config{})
	ref := reg.host() + "/plain/app:v1"
	err := pushAndHead(t, c, ref)
	if err == nil {
		t.Fatal("push over plain HTTP to an unlisted host succeeded")
	}
	want := "registry " + reg.host() + " answered over plain HTTP; it is not listed in insecure_registries; " +
		"add it there if it really serves plain HTTP"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error: %v\nwant it to contain: %s", err, want)
	}
	explained := c.Explain(err, ref)
	var e *Error
	if !errors.As(explained, &e) || e.Kind != PlainHTTP {
		t.Fatalf("Explain = %v, want a PlainHTTP *Error", explained)
	}
	if got := explained.Error(); got != "cannot use registry "+reg.host()+" for "+ref+": "+want {
		t.Errorf("Explain: %s", got)
	}
	if n, _ := reg.seen(); n != 0 {
		t.Errorf("the registry handled %d HTTP requests, want none", n)
	}
}

func TestPlainHTTPRefusedBeforeSending(t *testing.T) {
	s, err := Config{}.settings()
	if err != nil {
		t.Fatal(err)
	}
	base := roundTripFunc(func(*http.Request) (*http.Response, error) {
		t.Fatal("a plain HTTP request to an unlisted host reached the network")
		return nil, nil
	})
	client := http.Client{Transport: newTransport(s, base)}
	_, err = client.Get("http://registry.example.com/v2/")
	var plain *PlainHTTPError
	if !errors.As(err, &plain) || plain.Answered || plain.Host != "registry.example.com" {
		t.Fatalf("Get = %v, want a refused PlainHTTPError", err)
	}
	if !strings.Contains(err.Error(), "refused to contact registry registry.example.com over plain HTTP; it is not listed in insecure_registries") {
		t.Errorf("message: %v", err)
	}
}

func TestPlainHTTPAllowedForListedHost(t *testing.T) {
	reg := newPlainRegistry(t)
	c := newClient(t, Config{InsecureRegistries: []string{reg.host()}})
	if err := pushAndHead(t, c, reg.host()+"/plain/app:v1"); err != nil {
		t.Fatalf("plain HTTP to a listed host: %v", err)
	}
}

func TestUnreachableIsExplained(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := l.Addr().String()
	_ = l.Close() // nothing listens there now
	c := newClient(t, Config{})
	ref := host + "/gone/app:v1"
	err = pushAndHead(t, c, ref)
	explained := c.Explain(err, ref)
	if Classify(err) != Unreachable || !strings.Contains(explained.Error(), "registry "+host+" is unreachable") ||
		!strings.Contains(explained.Error(), "connection refused") {
		t.Fatalf("Explain = %v (kind %d), want an unreachable registry", explained, Classify(err))
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestPlainHTTPHintsAtThePort: insecure_registries = ["127.0.0.1"] does not list
// 127.0.0.1:<port>; the refusal names the entry that almost matched and says that the port is
// part of the host.
func TestPlainHTTPHintsAtThePort(t *testing.T) {
	reg := newPlainRegistry(t)
	hostname, _, err := net.SplitHostPort(reg.host())
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, Config{InsecureRegistries: []string{"registry.example.com", hostname}})
	ref := reg.host() + "/plain/app:v1"
	err = pushAndHead(t, c, ref)
	var plain *PlainHTTPError
	if !errors.As(err, &plain) {
		t.Fatalf("push = %v, want a PlainHTTPError", err)
	}
	want := fmt.Sprintf(`it is not listed in insecure_registries, which lists %q: the port is part of the host, so list %q there if it really serves plain HTTP`,
		hostname, reg.host())
	if msg := c.Explain(err, ref).Error(); !strings.Contains(msg, want) {
		t.Errorf("Explain: %s\nwant it to contain: %s", msg, want)
	}
}
