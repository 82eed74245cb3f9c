package backup

import (
	"path"
	"path/filepath"
	"strings"

	"github.com/cellplane/cellplane/internal/backup/objstore"
)

// Storage says where backups are kept: an S3 bucket when S3 is set, else the
// local directory Dir.
type Storage struct {
	Dir string
	S3  *objstore.S3Config
}

// Open returns the store.
func (st Storage) Open() (objstore.Store, error) {
	if st.S3 != nil {
		return objstore.NewS3(*st.S3)
	}
	return objstore.NewDir(st.Dir)
}

// Location names where the set under prefix lives, for people: a directory or
// an s3:// URL. It never holds credentials.
func (st Storage) Location(prefix string) string {
	if st.S3 != nil {
		return "s3://" + path.Join(st.S3.Bucket, strings.Trim(st.S3.Prefix, "/"), prefix) + "/"
	}
	return filepath.Join(st.Dir, filepath.FromSlash(prefix)) + string(filepath.Separator)
}
