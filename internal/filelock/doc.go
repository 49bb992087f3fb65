// Package filelock locks files between the goroutines of one process and between processes:
// the OCI layouts that several mirrors write at once, and the cache of unpacked Zarf packages
// that separate terraform processes share.
package filelock
