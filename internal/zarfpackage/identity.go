package zarfpackage

import "os"

// fileIdentity tells whether a file is still the one it was. Size and modification time say it
// everywhere; where the system reports them, the inode and the change time (which no tool can
// set back) also catch a new archive copied or moved to the same path with size and
// modification time kept (cp -p, rsync -t).
type fileIdentity struct {
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime_ns"`
	Change  int64  `json:"ctime_ns,omitempty"`
	Device  uint64 `json:"dev,omitempty"`
	Inode   uint64 `json:"ino,omitempty"`
}

func identityOf(fi os.FileInfo) fileIdentity {
	id := fileIdentity{Size: fi.Size(), ModTime: fi.ModTime().UnixNano()}
	id.Change, id.Device, id.Inode = changeTimeAndInode(fi)
	return id
}
