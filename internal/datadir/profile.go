package datadir

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/cellplane/cellplane/internal/pki"
)

// WriteAWSCredentials writes the profile's credentials file (mode 0600)
// atomically: a reader sees the old key or the new one, never half of each.
func WriteAWSCredentials(dataDir, accessKeyID, secretAccessKey string) error {
	creds := fmt.Sprintf("[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n", Profile, accessKeyID, secretAccessKey)
	if err := pki.WriteFileAtomic(AWSCredentialsFile(dataDir), []byte(creds), 0o600); err != nil {
		return fmt.Errorf("writing AWS credentials: %w", err)
	}
	return nil
}

// ProfileAccessKeyID returns the access key ID the profile's credentials file
// holds, "" when there is no such file.
func ProfileAccessKeyID(dataDir string) (string, error) {
	data, err := os.ReadFile(AWSCredentialsFile(dataDir))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading AWS credentials: %w", err)
	}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = strings.TrimSpace(line[1 : len(line)-1])
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if ok && section == Profile && strings.TrimSpace(k) == "aws_access_key_id" {
			return strings.TrimSpace(v), nil
		}
	}
	return "", nil
}
