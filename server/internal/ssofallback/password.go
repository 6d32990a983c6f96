package ssofallback

import (
	"crypto/rand"
	"fmt"
	"math/big"

	"golang.org/x/crypto/bcrypt"
)

const (
	passwordLength = 20
	lower          = "abcdefghijkmnopqrstuvwxyz" // no l: easy to mistake when read aloud
	upper          = "ABCDEFGHJKLMNPQRSTUVWXYZ"  // no I, O
	digits         = "23456789"                  // no 0, 1
	symbols        = "!#%+-=?@^_"
)

// GeneratePassword returns a random temporary password of 20 characters that holds a lower-
// case letter, an upper-case letter, a digit and a symbol, so it meets any password policy
// Mattermost can be set to (length up to 20, each character class required).
func GeneratePassword() (string, error) {
	all := lower + upper + digits + symbols
	out := make([]byte, passwordLength)
	for i := range out {
		set := all
		switch i { // one of each class, in positions then shuffled
		case 0:
			set = lower
		case 1:
			set = upper
		case 2:
			set = digits
		case 3:
			set = symbols
		}
		c, err := pick(set)
		if err != nil {
			return "", err
		}
		out[i] = c
	}
	for i := len(out) - 1; i > 0; i-- { // Fisher-Yates with crypto/rand
		j, err := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		if err != nil {
			return "", fmt.Errorf("generate password: %w", err)
		}
		out[i], out[j.Int64()] = out[j.Int64()], out[i]
	}
	return string(out), nil
}

func pick(set string) (byte, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
	if err != nil {
		return 0, fmt.Errorf("generate password: %w", err)
	}
	return set[n.Int64()], nil
}

// HashPassword hashes a temporary password for Mattermost's already-hashed password update.
// The cost is bcrypt's minimum on purpose: a work factor protects passwords people choose,
// while these are 20 random characters (about 120 bits), beyond any guessing however cheap
// one guess is; a cost of 10 would make a fallback of thousands of users take minutes.
func HashPassword(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		return "", fmt.Errorf("hash temporary password: %w", err)
	}
	return string(h), nil
}
