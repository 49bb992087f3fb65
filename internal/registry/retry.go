package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

const (
	// MaxRetryAfter caps the wait that a Retry-After header can ask for.
	MaxRetryAfter = 60 * time.Second

	// Without Retry-After, retry n waits a random time in [d/2, d], d = min(1s·2^(n-1), 30s).
	baseBackoff = time.Second
	maxBackoff  = 30 * time.Second
)

// RetryError reports a request that failed in a way worth retrying (408, 429, 500, 502, 503,
// 504 or a dropped connection) and was not retried further: retries were exhausted, or the
// request could not be repeated safely.
type RetryError struct {
	// Attempts is the number of times the request was sent.
	Attempts int
	// Err is the last failure: a *transport.Error for an HTTP status, else the network error.
	Err error

	replayable bool
}

func (e *RetryError) Error() string {
	if e.Attempts > 1 {
		return fmt.Sprintf("giving up after %d attempts: %v", e.Attempts, e.Err)
	}
	return e.Err.Error()
}

func (e *RetryError) Unwrap() error { return e.Err }

// retryTransport retries one request at a time; see Client for how it combines with
// go-containerregistry's own retries.
type retryTransport struct {
	inner      http.RoundTripper
	maxRetries int
	sleep      func(context.Context, time.Duration) error
}

// RoundTrip sends req, and sends it again after a backoff while it fails in a retryable way,
// the request can be repeated and retries remain. A retryable failure that ends the loop is
// returned as a *RetryError, also when it was an HTTP status.
func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	replayable := canReplay(req)
	for attempt := 1; ; attempt++ {
		resp, err := t.inner.RoundTrip(req)
		if ctx.Err() != nil || !retryable(resp, err) {
			return resp, err
		}
		if !replayable || attempt > t.maxRetries {
			return nil, giveUp(attempt, replayable, resp, err)
		}
		wait := backoff(attempt)
		if resp != nil {
			if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
				wait = d
			}
			// Drain a little so that the connection can be reused.
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			_ = resp.Body.Close()
		}
		if err := t.sleep(ctx, wait); err != nil {
			return nil, err
		}
		if req, err = rewind(req); err != nil {
			return nil, err
		}
	}
}

// canReplay tells whether req may be sent again: its body can be produced again (no body, or
// GetBody), and it is not a PATCH, which appends to a blob upload session, so that repeating a
// PATCH that reached the registry in part would corrupt the upload. go-containerregistry
// restarts the whole upload instead (see Client).
func canReplay(req *http.Request) bool {
	hasBody := req.Body != nil && req.Body != http.NoBody
	return req.Method != http.MethodPatch && (!hasBody || req.GetBody != nil)
}

// rewind returns a copy of req to send again, with a fresh body.
func rewind(req *http.Request) (*http.Request, error) {
	again := req.Clone(req.Context())
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("%s %s: reopening the request body for a retry: %w", req.Method, req.URL.Redacted(), err)
		}
		again.Body = body
	}
	return again, nil
}

func retryable(resp *http.Response, err error) bool {
	if err != nil {
		return droppedConnection(err)
	}
	switch resp.StatusCode {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// droppedConnection tells whether err means that the connection broke, before or while the
// response came. Refused connections, DNS failures, TLS failures and timeouts are not retried.
func droppedConnection(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE)
}

func giveUp(attempts int, replayable bool, resp *http.Response, err error) error {
	if resp != nil {
		err = transport.CheckError(resp) // no status is acceptable: always the registry's error
		_ = resp.Body.Close()
	}
	return &RetryError{Attempts: attempts, Err: err, replayable: replayable}
}

func backoff(attempt int) time.Duration {
	d := min(baseBackoff<<min(attempt-1, 10), maxBackoff)
	return d/2 + rand.N(d/2)
}

// retryAfter parses a Retry-After header, delay-seconds or HTTP-date, capped at MaxRetryAfter.
func retryAfter(value string, now time.Time) (time.Duration, bool) {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0, false
	}
	if secs, err := strconv.ParseUint(value, 10, 64); err == nil {
		if secs > uint64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter, true
		}
		return time.Duration(secs) * time.Second, true
	}
	if at, err := http.ParseTime(value); err == nil {
		return min(max(at.Sub(now), 0), MaxRetryAfter), true
	}
	return 0, false
}

// sleepContext waits for d or until ctx ends, whichever comes first.
func sleepContext(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
