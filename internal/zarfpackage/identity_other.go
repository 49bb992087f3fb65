//go:build !linux && !darwin && !freebsd

package zarfpackage

import "os"

// changeTimeAndInode: size and modification time alone tell files apart here.
func changeTimeAndInode(os.FileInfo) (ctime int64, dev, ino uint64) { return 0, 0, 0 }
