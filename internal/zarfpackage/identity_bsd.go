//go:build darwin || freebsd

package zarfpackage

import (
	"os"
	"syscall"
)

func changeTimeAndInode(fi os.FileInfo) (ctime int64, dev, ino uint64) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, 0
	}
	return st.Ctimespec.Nano(), uint64(st.Dev), uint64(st.Ino) //nolint:unconvert // the types differ between systems
}
