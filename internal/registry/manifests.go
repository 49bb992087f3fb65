package registry

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

const (
	// MaxErrorBodyBytes bounds the body of an error answer that is read; the rest is dropped.
	// go-containerregistry reads at most as much (transport.CheckError), and fails without the
	// HTTP status when there is more: cutting the body here keeps the status and the error code.
	MaxErrorBodyBytes = 64 << 10
)

// manifestPath matches /v2/<name>/manifests/<reference>.
var manifestPath = regexp.MustCompile(`^/v2/.+/manifests/[^/]+$`)

// manifestGuard sits between the retry transport and the host policy. It bounds what a
// registry can make the provider read, and checks what a registry says about manifests:
//
//   - an error answer's body is cut at MaxErrorBodyBytes;
//   - a manifest GET answer whose Content-Length is over store.MaxManifestBytes fails before its body
//     is read; otherwise the body is read here (at most store.MaxManifestBytes), so that a connection
//     that breaks in the middle of it is a dropped connection that the retry transport retries;
//   - the Docker-Content-Digest of a manifest GET answer must be the digest of its body, and that
//     of a manifest PUT answer the digest of the bytes sent (containerd relies on the header in
//     the same way). A registry that answers otherwise fails the request with a
//     *ManifestDigestError.
type manifestGuard struct {
	inner http.RoundTripper
}

// ManifestDigestError is a registry whose Docker-Content-Digest header disagrees with the bytes
// of a manifest: those it served (GET) or those it was sent (PUT).
type ManifestDigestError struct {
	Method string // GET or PUT
	URL    string // the request URL, redacted
	Header string // the Docker-Content-Digest header
	Bytes  string // the digest of the bytes served or sent
}

func (e *ManifestDigestError) Error() string {
	if e.Method == http.MethodPut {
		return fmt.Sprintf("PUT %s: the registry answered that it stored the manifest as %s, but the manifest sent is %s; "+
			"it did not store the bytes unchanged", e.URL, e.Header, e.Bytes)
	}
	return fmt.Sprintf("GET %s: the registry served a manifest whose digest is %s, but its Docker-Content-Digest header says %s; "+
		"the bytes were altered on the way or the registry is inconsistent", e.URL, e.Bytes, e.Header)
}

// ManifestTooLargeError is a manifest larger than store.MaxManifestBytes.
type ManifestTooLargeError struct {
	URL  string // the request URL, redacted
	Size int64  // the Content-Length, or -1 when the body went over the limit without one
}

func (e *ManifestTooLargeError) Error() string {
	size := "more than"
	if e.Size >= 0 {
		size = fmt.Sprintf("%d bytes,", e.Size)
	}
	return fmt.Sprintf("GET %s: the registry serves a manifest of %s over the limit of %d bytes (4 MiB) that registries accept; it was not read",
		e.URL, size, store.MaxManifestBytes)
}

func (g manifestGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	manifest := manifestPath.MatchString(req.URL.Path)
	var sent string // the digest of the manifest a PUT sends
	if manifest && req.Method == http.MethodPut && req.GetBody != nil {
		if body, err := req.GetBody(); err == nil {
			raw, err := io.ReadAll(io.LimitReader(body, store.MaxManifestBytes+1))
			if err == nil && len(raw) <= store.MaxManifestBytes {
				sent, _ = digestOf(bytes.NewReader(raw))
			}
			_ = body.Close()
		}
	}
	resp, err := g.inner.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	switch {
	case resp.StatusCode >= http.StatusBadRequest:
		resp.Body = limitedBody{Reader: io.LimitReader(resp.Body, MaxErrorBodyBytes), Closer: resp.Body}
	case manifest && req.Method == http.MethodGet && resp.StatusCode == http.StatusOK:
		return checkManifestBody(req, resp)
	case manifest && req.Method == http.MethodPut && sent != "":
		if header := resp.Header.Get("Docker-Content-Digest"); header != "" && header != sent {
			_ = resp.Body.Close()
			return nil, &ManifestDigestError{Method: http.MethodPut, URL: req.URL.Redacted(), Header: header, Bytes: sent}
		}
	}
	return resp, nil
}

// checkManifestBody reads a manifest GET answer whole (within store.MaxManifestBytes), checks it
// against Docker-Content-Digest, and hands on the bytes in a fresh body.
func checkManifestBody(req *http.Request, resp *http.Response) (*http.Response, error) {
	defer resp.Body.Close()
	if resp.ContentLength > store.MaxManifestBytes {
		return nil, &ManifestTooLargeError{URL: req.URL.Redacted(), Size: resp.ContentLength}
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, store.MaxManifestBytes+1))
	if err != nil {
		return nil, err // a dropped connection: retried
	}
	if len(raw) > store.MaxManifestBytes {
		return nil, &ManifestTooLargeError{URL: req.URL.Redacted(), Size: -1}
	}
	header := resp.Header.Get("Docker-Content-Digest")
	mt := types.MediaType(strings.TrimSpace(strings.Split(resp.Header.Get("Content-Type"), ";")[0]))
	// Schema 1 manifests carry signatures that their digest leaves out.
	if strings.HasPrefix(header, "sha256:") && mt != types.DockerManifestSchema1 && mt != types.DockerManifestSchema1Signed {
		if got, _ := digestOf(bytes.NewReader(raw)); got != header {
			return nil, &ManifestDigestError{Method: http.MethodGet, URL: req.URL.Redacted(), Header: header, Bytes: got}
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	resp.ContentLength = int64(len(raw))
	return resp, nil
}

func digestOf(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// limitedBody reads at most a limit and closes the underlying body.
type limitedBody struct {
	io.Reader
	io.Closer
}
