package storage

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestValidateKey(t *testing.T) {
	for _, k := range []string{"a", "a/b/c", "2024-01-01T00:00:00Z/db.dump", ".hidden", "a..b", "...", "é/ü", "with space", strings.Repeat("k", MaxKeyLength)} {
		assert.NoError(t, ValidateKey(k), "%q", k)
	}
	for k, want := range map[string]string{
		"": "empty", "/a": "absolute", "a/": "empty segment", "a//b": "empty segment", "..": `".."`, "a/./b": `"."`,
		`a\b`: "backslash", ".tmp-x": "reserved", "a/.tmp-": "reserved", "a\x7fb": "control", "\xff": "UTF-8",
		strings.Repeat("k", MaxKeyLength+1): "bytes long",
	} {
		err := ValidateKey(k)
		if assert.Error(t, err, "%q", k) {
			assert.Contains(t, err.Error(), want, "%q", k)
		}
	}
}

func TestValidatePrefix(t *testing.T) {
	for _, p := range []string{"", "a", "a/", "a/b/", "2024-"} {
		assert.NoError(t, ValidatePrefix(p), "%q", p)
	}
	for _, p := range []string{"/", "/a", "a//", "../", `a\`, ".tmp-"} {
		assert.Error(t, ValidatePrefix(p), "%q", p)
	}
}
