// Package bench holds the performance benchmarks of the mirror engine (`make bench`): each one
// starts real distribution registry processes and copies the same generated content with the
// engine and with go-containerregistry's crane.Copy, side by side, and reports the ratio of
// their median times (ours/crane), request counts and peak memory. It has no non-test code.
package bench
