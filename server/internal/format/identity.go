package format

import (
	"fmt"
	"os"
	"strings"

	"filippo.io/age"
)

// Environment variables that give the age identity of encrypted backups when no file is named:
// the plugin reads them from Mattermost's environment, drctl from its own.
const (
	EnvIdentityFile = "DR_AGE_IDENTITY_FILE" // a path
	EnvIdentity     = "DR_AGE_IDENTITY"      // the key itself
)

// LoadIdentities reads the age identities that decrypt backups: from the file path when given,
// else from the file EnvIdentityFile names, else from EnvIdentity. None is not an error (nil).
// source says where they came from; no message ever holds the key.
func LoadIdentities(path string) (ids []age.Identity, source string, err error) {
	path = strings.TrimSpace(path)
	source = "the file " + path
	if path == "" {
		path = strings.TrimSpace(os.Getenv(EnvIdentityFile))
		source = "the file " + path + " (" + EnvIdentityFile + ")"
	}
	if path == "" {
		v := strings.TrimSpace(os.Getenv(EnvIdentity))
		if v == "" {
			return nil, "", nil
		}
		if ids, err = age.ParseIdentities(strings.NewReader(v)); err != nil {
			return nil, "", fmt.Errorf("the %s environment variable does not hold an age identity (AGE-SECRET-KEY-…)", EnvIdentity)
		}
		return ids, "the " + EnvIdentity + " environment variable", nil
	}
	f, err := os.Open(path) //nolint:gosec // the admin names the identity file
	if err != nil {
		return nil, "", fmt.Errorf("read the age identity from %s: %w", source, err)
	}
	defer f.Close()
	if ids, err = age.ParseIdentities(f); err != nil {
		return nil, "", fmt.Errorf("%s does not hold an age identity (AGE-SECRET-KEY-… lines, as age-keygen writes)", source)
	}
	return ids, source, nil
}
