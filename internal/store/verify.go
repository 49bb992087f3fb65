package store

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// VerifyingReader reads rc, the bytes of the blob d, and fails when they turn out longer than
// d.Size, or at the end when their size or sha256 digest differs from d's. what names the place
// read from in its errors.
func VerifyingReader(rc io.ReadCloser, d v1.Descriptor, what string) io.ReadCloser {
	return &verifyingReader{rc: rc, h: sha256.New(), want: d, what: what}
}

type verifyingReader struct {
	rc   io.ReadCloser
	h    hash.Hash
	n    int64
	want v1.Descriptor
	what string
}

func (r *verifyingReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	r.h.Write(p[:n])
	r.n += int64(n)
	if r.n > r.want.Size {
		return n, fmt.Errorf("%s: blob %s is longer than %d bytes", r.what, r.want.Digest, r.want.Size)
	}
	if errors.Is(err, io.EOF) {
		if r.n != r.want.Size {
			return n, fmt.Errorf("%s: blob %s has %d bytes, expected %d: %w", r.what, r.want.Digest, r.n, r.want.Size, io.ErrUnexpectedEOF)
		}
		if got := "sha256:" + hex.EncodeToString(r.h.Sum(nil)); got != r.want.Digest.String() {
			return n, fmt.Errorf("%s: blob %s has the digest %s", r.what, r.want.Digest, got)
		}
	}
	return n, err
}

func (r *verifyingReader) Close() error { return r.rc.Close() }
