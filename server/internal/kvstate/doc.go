// Package kvstate is the plugin's state in the Mattermost plugin KV store: every key, its
// owner and its lifetime are declared once, in keys.go, and read and written through typed
// accessors whose encodings match the bytes earlier versions stored.
//
// The packages that keep their own records (internal/audit, internal/ssofallback,
// internal/failover) still access the KV store behind their own interfaces; keys.go names
// their keys too, and a test fails when code under server/ uses a key keys.go does not list.
package kvstate
