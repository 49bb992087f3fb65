package zarfpackage

import (
	"errors"
	"fmt"
)

// Problem says why an archive was refused.
type Problem int

const (
	// ProblemHostileEntry: an entry that could write outside the cache entry or is no plain
	// file or folder (absolute or `..` name, link, device, an entry twice).
	ProblemHostileEntry Problem = iota + 1
	// ProblemTooLarge: the archive unpacks past the size or entry-count limit.
	ProblemTooLarge
	// ProblemNotAPackage: no zarf.yaml, an unreadable one, another kind than a Zarf package,
	// or an archive that is no tar (or zstd-compressed tar) at all.
	ProblemNotAPackage
	// ProblemIntegrity: checksums.txt or a file it lists does not match, a listed file is
	// missing, or a file is not listed.
	ProblemIntegrity
	// ProblemSignature: a public key was given and the package is unsigned, or its signature
	// does not verify.
	ProblemSignature
)

// advice says what a user can do about each problem.
var advice = map[Problem]string{
	ProblemHostileEntry: "The archive was not written by Zarf or was altered since: get the package again from its publisher",
	ProblemTooLarge:     "The archive may be built to exhaust the disk (a decompression bomb): get the package again from its publisher",
	ProblemNotAPackage:  "Check that the path names a Zarf package archive (zarf-package-<name>-<arch>-<version>.tar.zst, .tar, or the .part000 of a split package)",
	ProblemIntegrity:    "The archive is damaged or was altered: copy it again from its source",
	ProblemSignature:    "Check that the public key is the one the package was signed with, and that the package is the one its publisher signed",
}

// RefusedError is the error of an archive that the reader refuses. Nothing of a refused
// archive stays in the cache.
type RefusedError struct {
	// Archive is the path of the archive.
	Archive string
	Problem Problem
	// Entry is the archive entry or package file concerned; empty when the problem is the
	// archive's as a whole.
	Entry string
	// Detail says what is wrong.
	Detail string
	// Err is the cause, when there is one (ErrNotSigned, why a signature does not verify, a
	// read error).
	Err error
}

func (e *RefusedError) Error() string {
	msg := "Zarf package " + e.Archive + " refused: "
	if e.Entry != "" {
		msg += fmt.Sprintf("%q: ", e.Entry)
	}
	msg += e.Detail
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg + ". " + advice[e.Problem]
}

func (e *RefusedError) Unwrap() error { return e.Err }

// ErrNotSigned is wrapped by the error of a package that a public key was given for but that
// is not signed.
var ErrNotSigned = errors.New("the package is not signed")
