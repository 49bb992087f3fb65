// Package registry decides how the provider talks to container registries: which hosts may
// use plain HTTP or unverified TLS, which CAs are trusted, which credentials go to which host,
// how failed requests are retried, and how registry errors are explained to users.
//
// Its Client opens registry repositories as store.Targets for the engine (see Repository) and
// has no Terraform imports; the provider fills a Config from its attributes.
package registry

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

const (
	// DefaultMaxRetries is the number of retries per request when Config.MaxRetries is nil.
	DefaultMaxRetries = 5
	// DefaultJobs is the concurrency used when Config.Jobs is 0.
	DefaultJobs = 4
)

// Credential is one registry_auth block: the username and password for one registry host.
type Credential struct {
	Address  string // host[:port], no scheme; docker.io, index.docker.io and registry-1.docker.io are one host
	Username string
	Password string
}

// String describes the credential without its password, so that printing a Credential or a
// Config never reveals a secret.
func (c Credential) String() string {
	return fmt.Sprintf("registry_auth{address: %q, username: %q, password: <redacted>}", c.Address, c.Username)
}

// GoString is String, for %#v.
func (c Credential) GoString() string { return c.String() }

// Config is the provider configuration that concerns registries. The zero value is valid:
// HTTPS with verification everywhere, system CAs, Docker config credentials, default retries.
type Config struct {
	// InsecureRegistries lists the hosts (host[:port], as written in image references) that
	// may be reached over plain HTTP or over TLS without certificate verification. Every other
	// host is HTTPS-only with verification; a plain HTTP request to it is refused.
	InsecureRegistries []string
	// CAPEM holds extra trusted CA certificates (PEM), added to the system roots.
	CAPEM []byte
	// Credentials are the registry_auth blocks. They win for their host over Keychain.
	Credentials []Credential
	// MaxRetries is the number of retries per request on 408, 429, 500, 502, 503, 504 and
	// dropped connections. Nil means DefaultMaxRetries; zero disables retries.
	MaxRetries *int
	// Jobs is the number of concurrent transfers; 0 means DefaultJobs. It is passed to
	// go-containerregistry, whose pull limiter caps the blob downloads open at once across
	// every operation of a Client.
	Jobs int
	// Keychain supplies credentials for hosts without a registry_auth block. Nil means
	// authn.DefaultKeychain (DOCKER_CONFIG, ~/.docker/config.json, credential helpers).
	Keychain authn.Keychain
	// Transport, when set, replaces the HTTP transport to every host (a test seam): TLS roots
	// and verification are then the caller's, while the plain HTTP guard and retries still
	// apply. Nil means a transport built from CAPEM and InsecureRegistries.
	Transport http.RoundTripper
	// Sleep waits between retries and must return early with ctx.Err() when ctx ends (a test
	// seam). Nil means a timer that watches ctx.
	Sleep func(ctx context.Context, d time.Duration) error
	// Logger receives progress messages; nil drops them.
	Logger Logger
}

// settings is a validated Config in the form the Client uses.
type settings struct {
	insecure   map[string]bool                            // normalised host → listed
	auth       map[string]authn.AuthConfig                // normalised host → registry_auth credentials
	certs      []*x509.Certificate                        // from CAPEM
	maxRetries int                                        // resolved default
	jobs       int                                        // resolved default
	keychain   authn.Keychain                             // resolved default
	sleep      func(context.Context, time.Duration) error // resolved default
}

// Validate reports every problem of c at once, naming the provider attribute concerned.
func (c Config) Validate() error {
	_, err := c.settings()
	return err
}

func (c Config) settings() (*settings, error) {
	var errs []error
	s := &settings{
		insecure:   map[string]bool{},
		auth:       map[string]authn.AuthConfig{},
		maxRetries: DefaultMaxRetries,
		jobs:       DefaultJobs,
		keychain:   c.Keychain,
		sleep:      c.Sleep,
	}
	for _, host := range c.InsecureRegistries {
		if err := checkAddress(host); err != nil {
			errs = append(errs, fmt.Errorf("insecure_registries: %q %w", host, err))
			continue
		}
		s.insecure[normaliseHost(host)] = true
	}

	certs, err := parseCertificates(c.CAPEM)
	if err != nil {
		errs = append(errs, fmt.Errorf("ca_pem: %w", err))
	}
	s.certs = certs

	seen := map[string]string{} // normalised host → address as written
	for i, cred := range c.Credentials {
		if err := checkAddress(cred.Address); err != nil {
			errs = append(errs, fmt.Errorf("registry_auth block %d: address %q %w", i+1, cred.Address, err))
			continue
		}
		host := normaliseHost(cred.Address)
		if first, dup := seen[host]; dup {
			errs = append(errs, fmt.Errorf("registry_auth: addresses %q and %q name the same registry %s; keep one block per registry", first, cred.Address, host))
			continue
		}
		seen[host] = cred.Address
		switch {
		case cred.Username == "" && cred.Password == "":
			errs = append(errs, fmt.Errorf("registry_auth for %q: username and password are empty", cred.Address))
		case cred.Username == "":
			errs = append(errs, fmt.Errorf("registry_auth for %q: password is set but username is empty", cred.Address))
		case cred.Password == "":
			errs = append(errs, fmt.Errorf("registry_auth for %q: username is set but password is empty", cred.Address))
		default:
			s.auth[host] = authn.AuthConfig{Username: cred.Username, Password: cred.Password}
		}
	}

	if c.MaxRetries != nil {
		if *c.MaxRetries < 0 {
			errs = append(errs, fmt.Errorf("max_retries must be 0 or more, got %d", *c.MaxRetries))
		}
		s.maxRetries = *c.MaxRetries
	}
	switch {
	case c.Jobs < 0:
		errs = append(errs, fmt.Errorf("jobs must be 1 or more, got %d", c.Jobs))
	case c.Jobs > 0:
		s.jobs = c.Jobs
	}
	if s.keychain == nil {
		s.keychain = authn.DefaultKeychain
	}
	if s.sleep == nil {
		s.sleep = sleepContext
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// ValidateAddress checks one entry of insecure_registries or one registry_auth address
// (host[:port]) without a request, with the rules Config.Validate applies; the error starts with
// the value.
func ValidateAddress(address string) error {
	if err := checkAddress(address); err != nil {
		return fmt.Errorf("%q %w", address, err)
	}
	return nil
}

// ValidateCAPEM checks a ca_pem bundle with the rules Config.Validate applies.
func ValidateCAPEM(bundle []byte) error {
	_, err := parseCertificates(bundle)
	return err
}

// checkAddress accepts host[:port] and explains what is wrong otherwise. Its messages continue
// a sentence that starts with the attribute and the value.
func checkAddress(address string) error {
	switch {
	case address == "":
		return errors.New("is empty; expected host[:port]")
	case strings.Contains(address, "://"):
		_, rest, _ := strings.Cut(address, "://")
		host, _, _ := strings.Cut(rest, "/")
		return fmt.Errorf("has a scheme; write the host[:port] alone, e.g. %q", host)
	case strings.Contains(address, "/"):
		host, _, _ := strings.Cut(address, "/")
		return fmt.Errorf("has a path; write the host[:port] alone, e.g. %q", host)
	}
	if _, err := name.NewRegistry(address, name.StrictValidation); err != nil {
		return fmt.Errorf("is not a valid host[:port]: %w", err)
	}
	return nil
}

// normaliseHost maps a registry host to the key used for insecure_registries and
// registry_auth: lower case, and the Docker Hub aliases folded into index.docker.io.
func normaliseHost(host string) string {
	host = strings.ToLower(host)
	switch host {
	case "docker.io", "registry-1.docker.io":
		return name.DefaultRegistry
	}
	return host
}

// parseCertificates decodes every CERTIFICATE block of a PEM bundle. Text around the blocks is
// ignored; other block types, undecodable certificates and a bundle without any certificate are
// errors. Empty input means no extra CAs.
func parseCertificates(bundle []byte) ([]*x509.Certificate, error) {
	if len(strings.TrimSpace(string(bundle))) == 0 {
		return nil, nil
	}
	var certs []*x509.Certificate
	for n, rest := 1, bundle; ; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %d is a %q, expected CERTIFICATE", n, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", n, err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM-encoded certificate found (expected -----BEGIN CERTIFICATE-----)")
	}
	return certs, nil
}
