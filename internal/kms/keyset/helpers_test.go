package keyset

import (
	"bytes"
	"encoding/base64"
)

func containsBytes(haystack, needle []byte) bool { return bytes.Contains(haystack, needle) }

func encodeStd(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
