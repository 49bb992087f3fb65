package mirror

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// HumanBytes formats a byte count in binary units, e.g. "1.5 GiB".
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// sizeOf is the total size of blobs.
func sizeOf(blobs []v1.Descriptor) int64 {
	var n int64
	for _, b := range blobs {
		n += b.Size
	}
	return n
}
