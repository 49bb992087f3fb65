package registrytest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

const (
	startAttempts = 5                // a random port can be taken between probing and binding
	startTimeout  = 30 * time.Second // per attempt
	stopTimeout   = 5 * time.Second  // between SIGTERM and SIGKILL
	logTailLines  = 50
)

// Registry is a running distribution registry process. Start it with [Start].
type Registry struct {
	Endpoint
	// Name describes the server and its configuration, e.g.
	// "distribution-v3.1.2 (validation=all)"; handy as a subtest name.
	Name string

	ca       *CA    // nil without TLS
	dataDir  string // storage.filesystem.rootdirectory; empty for an in-process registry
	cmd      *exec.Cmd
	exited   chan struct{} // closed when the process has exited
	shutdown func()        // stops an in-process registry (cmd is nil then)
	logPath  string
	stopOnce sync.Once
}

// Option configures a registry started by [Start].
type Option func(*settings)

type settings struct {
	validation string   // validation.manifests.indexes.platforms
	platforms  []string // validation.manifests.indexes.platformlist, "os/arch"
	delete     bool
	tls        bool
	username   string
	password   string
	maxTags    int // tags.maxtags; 0 leaves the registry's default (1000)
}

// WithIndexValidation sets how the registry checks that the manifests an index lists exist
// (validation.manifests.indexes.platforms): "all" (the default) rejects an index whose
// entries are missing, "none" accepts sparse indexes, and "list" checks only the entries
// whose platform is one of platforms ("os/arch"; the registry ignores variants).
func WithIndexValidation(mode string, platforms ...string) Option {
	return func(s *settings) {
		s.validation = mode
		s.platforms = platforms
	}
}

// WithDelete enables or disables manifest and blob deletion (storage.delete.enabled). The
// default is enabled.
func WithDelete(enabled bool) Option {
	return func(s *settings) { s.delete = enabled }
}

// WithTLS serves HTTPS with a certificate for 127.0.0.1, ::1 and localhost, signed by a CA
// generated for this registry (see [Endpoint.CAPEM]).
func WithTLS() Option {
	return func(s *settings) { s.tls = true }
}

// WithBasicAuth requires these credentials (htpasswd authentication).
func WithBasicAuth(username, password string) Option {
	return func(s *settings) {
		s.username = username
		s.password = password
	}
}

// WithMaxTags sets the largest page of the tag list (tags.maxtags; distribution v3's default
// is 1000): a client that asks for more gets n tags and a Link header to the next page.
func WithMaxTags(n int) Option {
	return func(s *settings) { s.maxTags = n }
}

func (s *settings) check() error {
	switch s.validation {
	case "all", "none":
		if len(s.platforms) > 0 {
			return fmt.Errorf("index validation %q takes no platforms", s.validation)
		}
	case "list":
		if len(s.platforms) == 0 {
			return errors.New(`index validation "list" needs platforms`)
		}
		for _, p := range s.platforms {
			if goos, goarch, ok := strings.Cut(p, "/"); !ok || goos == "" || goarch == "" || strings.Contains(goarch, "/") {
				return fmt.Errorf("index validation platform %q is not os/arch", p)
			}
		}
	default:
		return fmt.Errorf("index validation %q is not all, none or list", s.validation)
	}
	return nil
}

// String describes the settings for [Registry.Name].
func (s *settings) String() string {
	parts := []string{"validation=" + s.validation}
	if s.validation == "list" {
		parts[0] += ":" + strings.Join(s.platforms, ",")
	}
	if !s.delete {
		parts = append(parts, "delete=false")
	}
	if s.tls {
		parts = append(parts, "tls")
	}
	if s.username != "" {
		parts = append(parts, "auth")
	}
	if s.maxTags > 0 {
		parts = append(parts, fmt.Sprintf("maxtags=%d", s.maxTags))
	}
	return strings.Join(parts, ", ")
}

// Start starts a distribution registry on 127.0.0.1 at a free port, with filesystem
// storage in a temporary directory, and waits until it answers GET /v2/. The registry is
// stopped when the test ends; if the test failed, the end of the registry's log is
// printed.
func Start(tb testing.TB, opts ...Option) *Registry {
	tb.Helper()
	s := settings{validation: "all", delete: true}
	for _, o := range opts {
		o(&s)
	}
	if err := s.check(); err != nil {
		tb.Fatalf("registrytest: %v", err)
	}
	bin, err := locateBinary()
	if err != nil {
		tb.Fatalf("registrytest: locating the registry binary: %v", err)
	}
	r, err := start(tb.TempDir(), bin, &s)
	if err != nil {
		tb.Fatalf("registrytest: starting the registry: %v", err)
	}
	tb.Cleanup(func() {
		r.Stop()
		if tb.Failed() {
			tb.Logf("registrytest: last lines of the log of %s at %s:\n%s", r.Name, r.Host, tailFile(r.logPath, logTailLines))
		}
	})
	return r
}

func start(dir string, bin registryBinary, s *settings) (*Registry, error) {
	r := &Registry{
		Name:    fmt.Sprintf("distribution-%s (%s)", bin.version, s),
		logPath: filepath.Join(dir, "registry.log"),
		dataDir: filepath.Join(dir, "data"),
	}
	config := map[string]any{
		"version": "0.1",
		"log":     map[string]any{"level": "warn"},
		"storage": map[string]any{
			"filesystem":  map[string]any{"rootdirectory": r.dataDir},
			"delete":      map[string]any{"enabled": s.delete},
			"maintenance": map[string]any{"uploadpurging": map[string]any{"enabled": false}},
		},
		"validation": map[string]any{"manifests": map[string]any{"indexes": indexValidation(s)}},
	}
	if s.maxTags > 0 {
		config["tags"] = map[string]any{"maxtags": s.maxTags}
	}
	httpConfig := map[string]any{"secret": "registrytest"}
	config["http"] = httpConfig
	if s.tls {
		tlsConfig, err := r.setUpTLS(dir)
		if err != nil {
			return nil, err
		}
		httpConfig["tls"] = tlsConfig
	}
	if s.username != "" {
		path, err := writeHtpasswd(dir, s.username, s.password)
		if err != nil {
			return nil, err
		}
		config["auth"] = map[string]any{"htpasswd": map[string]any{"realm": "registrytest", "path": path}}
	}

	var err error
	for range startAttempts {
		var addr string
		if addr, err = freeAddr(); err != nil {
			return nil, err
		}
		httpConfig["addr"] = addr
		if r.Endpoint, err = newEndpoint(addr, r.caPEM(), s.username, s.password); err != nil {
			return nil, err
		}
		if err = r.launch(bin.path, dir, config); !errors.Is(err, errAddrInUse) {
			return r, err
		}
	}
	return nil, err
}

// indexValidation returns the validation.manifests.indexes section.
func indexValidation(s *settings) map[string]any {
	section := map[string]any{"platforms": s.validation}
	var list []map[string]string
	for _, p := range s.platforms {
		goos, goarch, _ := strings.Cut(p, "/")
		list = append(list, map[string]string{"os": goos, "architecture": goarch})
	}
	if list != nil {
		section["platformlist"] = list
	}
	return section
}

// setUpTLS creates the CA and the server certificate files and returns the http.tls
// section.
func (r *Registry) setUpTLS(dir string) (map[string]any, error) {
	ca, err := NewCA()
	if err != nil {
		return nil, err
	}
	cert, err := ca.Issue()
	if err != nil {
		return nil, err
	}
	certPEM, keyPEM, err := pemFiles(cert)
	if err != nil {
		return nil, err
	}
	certPath, keyPath := filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	if err := os.WriteFile(certPath, certPEM, 0o600); err != nil {
		return nil, fmt.Errorf("writing the server certificate: %w", err)
	}
	if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("writing the server key: %w", err)
	}
	r.ca = ca
	return map[string]any{"certificate": certPath, "key": keyPath}, nil
}

func (r *Registry) caPEM() []byte {
	if r.ca == nil {
		return nil
	}
	return r.ca.pem
}

// writeHtpasswd writes an htpasswd file with one bcrypt entry. The minimum cost keeps
// the registry fast: it checks the password on every request.
func writeHtpasswd(dir, username, password string) (string, error) {
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		return "", fmt.Errorf("hashing the password: %w", err)
	}
	path := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(path, fmt.Appendf(nil, "%s:%s\n", username, hash), 0o600); err != nil {
		return "", fmt.Errorf("writing the htpasswd file: %w", err)
	}
	return path, nil
}

// freeAddr returns 127.0.0.1:<a port that was free a moment ago>.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

var errAddrInUse = errors.New("address already in use")

// launch writes the configuration, starts the process and waits until it serves. A JSON
// document is a YAML document, so the configuration is written with encoding/json.
func (r *Registry) launch(bin, dir string, config map[string]any) error {
	data, err := json.MarshalIndent(config, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the configuration: %w", err)
	}
	configPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(configPath, data, 0o600); err != nil {
		return fmt.Errorf("writing the configuration: %w", err)
	}
	logFile, err := os.Create(r.logPath)
	if err != nil {
		return fmt.Errorf("creating the log file: %w", err)
	}
	cmd := exec.Command(bin, "serve", configPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = registryEnv()
	cmd.SysProcAttr = sysProcAttr()
	err = cmd.Start()
	logFile.Close() // the child has its own descriptor
	if err != nil {
		return fmt.Errorf("running %s: %w", bin, err)
	}
	r.cmd, r.exited = cmd, make(chan struct{})
	go func() {
		_ = cmd.Wait() // the exit status of a registry that we stop is not interesting
		close(r.exited)
	}()
	if err := r.waitReady(); err != nil {
		r.terminate()
		log := tailFile(r.logPath, logTailLines)
		if strings.Contains(log, "address already in use") {
			return errAddrInUse
		}
		return fmt.Errorf("%w; log:\n%s", err, log)
	}
	return nil
}

// registryEnv returns the environment of the registry process: this process's, without
// REGISTRY_* variables (they override the configuration) and with tracing export off
// (distribution v3 otherwise exports traces to localhost:4318).
func registryEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REGISTRY_") && !strings.HasPrefix(kv, "OTEL_TRACES_EXPORTER=") {
			env = append(env, kv)
		}
	}
	return append(env, "OTEL_TRACES_EXPORTER=none")
}

// waitReady polls GET /v2/ until the registry answers 200 or 401.
func (r *Registry) waitReady() error {
	client := &http.Client{Transport: r.transport, Timeout: time.Second}
	deadline := time.Now().Add(startTimeout)
	for {
		resp, err := client.Get(r.URL() + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return nil
			}
			err = fmt.Errorf("GET /v2/: %s", resp.Status)
		}
		select {
		case <-r.exited:
			return fmt.Errorf("the registry exited: %s", r.cmd.ProcessState)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the registry did not answer within %s: %w", startTimeout, err)
		}
	}
}

// Stop stops the registry (SIGTERM, then SIGKILL after a few seconds; an in-process
// registry of [Implementations] closes its server) and waits for it to exit. It is safe to
// call more than once; tests call it to make a registry unreachable.
func (r *Registry) Stop() {
	r.stopOnce.Do(func() {
		if r.shutdown != nil {
			r.shutdown()
		} else {
			r.terminate()
		}
		r.transport.CloseIdleConnections()
	})
}

// terminate sends SIGTERM, then SIGKILL after stopTimeout, and waits for the exit.
func (r *Registry) terminate() {
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(stopTimeout):
		_ = r.cmd.Process.Kill()
		<-r.exited
	}
}

// tailFile returns the last n lines of the file at path, or a note why it cannot.
func tailFile(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
