package audit

import "strings"

// Redacted replaces the value of a Details entry whose key looks secret.
const Redacted = "[redacted]"

// secretKeyWords are matched against a Details key that has been lower-cased
// and stripped of '_', '-', '.' and spaces, so "Private_Key", "private-key"
// and "privateKey" all match "privatekey".
var secretKeyWords = []string{
	"password",
	"passwd",
	"secret",
	"token",
	"privatekey",
	"encryptionkey",
	"signingkey",
	"sshkey",
	"credential",
	"apikey",
	"accesskey",
	"authorization",
	"bearer",
	"cookie",
	"salt",       // e.g. FileSettings.PublicLinkSalt
	"datasource", // database DSNs carry the password: SqlSettings.DataSource
	"dsn",
	"connectionstring",
}

var keyNormalizer = strings.NewReplacer("_", "", "-", "", ".", "", " ", "")

// IsSecretKey reports whether a Details key looks like it names a secret;
// Append stores Redacted instead of the value of such keys.
func IsSecretKey(key string) bool {
	k := keyNormalizer.Replace(strings.ToLower(key))
	for _, w := range secretKeyWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}
