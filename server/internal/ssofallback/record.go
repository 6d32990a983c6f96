// Package ssofallback switches SSO users to email/password during an identity-provider
// outage and back afterwards, exactly as they were.
//
// Each user goes through a small state machine whose state is saved in the plugin KV store
// before every step that changes the user, so that a crash at any point (kill -9 of the
// plugin, a node dying) is finished by running the same command again:
//
//	(none) --record--> recorded --switch--> switched --deliver--> delivered
//	any state --> restoring --binding restored, fallback sessions revoked--> record deleted
//
// The record holds the original AuthService and AuthData byte for byte. It is inserted with
// an insert-only write, so a second fallback can never overwrite the original binding, and it
// is deleted only after the restored user has been read back and checked.
//
// Invariant: every user always has either a record or their original binding. Each fallback
// and restore of a user runs under that user's lease in the KV store (lock.go), shared by all
// nodes, and reads the record and the user only once it holds it; every record write is a
// compare-and-set on what the holder read.
package ssofallback

import (
	"encoding/json"
	"fmt"
	"time"
)

// State is how far a user's fallback has got.
type State string

// The states of a fallback, in order.
const (
	StateRecorded  State = "recorded"  // original binding saved; user not changed yet
	StateSwitched  State = "switched"  // user is on email/password, with no password yet
	StateDelivered State = "delivered" // the user was given a way to sign in
	StateRestoring State = "restoring" // a restore is putting the binding back (or stopped doing so)
)

// Delivery is how a switched user gets a way to sign in.
type Delivery string

// Deliveries.
const (
	DeliverResetLink Delivery = "reset-link" // Mattermost's own password-reset email
	DeliverDM        Delivery = "dm"         // a temporary password by direct message from the bot
	DeliverEmail     Delivery = "email"      // a temporary password by email
	DeliverShow      Delivery = "show"       // a temporary password shown only to the acting admin
)

// Deliveries lists the valid deliveries, for usage and validation.
var Deliveries = []string{string(DeliverResetLink), string(DeliverDM), string(DeliverEmail), string(DeliverShow)}

// Services are the SSO services whose users can fall back. magic_link (guests) is not SSO
// for this purpose even though Mattermost's IsSSOUser says so.
var Services = []string{"saml", "ldap", "gitlab", "google", "office365", "openid"}

// IsService reports whether s is a supported SSO service.
func IsService(s string) bool {
	for _, v := range Services {
		if v == s {
			return true
		}
	}
	return false
}

// Record is what is saved about one user in fallback. It never holds a password.
type Record struct {
	UserID      string   `json:"user_id"`
	Username    string   `json:"username"`
	AuthService string   `json:"auth_service"`
	AuthData    *string  `json:"auth_data"` // exactly as read, nil stays nil
	State       State    `json:"state"`
	Delivery    Delivery `json:"delivery"`
	ActorID     string   `json:"actor_id"`
	Actor       string   `json:"actor"`
	Reason      string   `json:"reason,omitempty"`
	CreatedAt   int64    `json:"created_at"` // ms; sessions created from here on are revoked on restore
	SwitchedAt  int64    `json:"switched_at,omitempty"`
	DeliveredAt int64    `json:"delivered_at,omitempty"`
	ExpiresAt   int64    `json:"expires_at,omitempty"` // ms; 0 = no expiry
	RemindedAt  int64    `json:"reminded_at,omitempty"`
}

// Created returns CreatedAt as a time.
func (r *Record) Created() time.Time { return time.UnixMilli(r.CreatedAt).UTC() }

// Expires returns ExpiresAt as a time, or the zero time when there is no expiry.
func (r *Record) Expires() time.Time {
	if r.ExpiresAt == 0 {
		return time.Time{}
	}
	return time.UnixMilli(r.ExpiresAt).UTC()
}

const keyPrefix = "sso/fb/"

func recordKey(userID string) string { return keyPrefix + userID }

func (r *Record) encode() ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode fallback record of %s: %w", r.UserID, err)
	}
	return b, nil
}

func sameAuthData(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}
