// Package drsettings is the DR settings document: what a shell needs to act for the plugin on
// the day Mattermost is down (topology and regions, the database clusters or PostgreSQL
// servers, the replicated buckets, OpenSearch, the Route 53 record, thresholds, the backup
// destinations, the identity providers and the backup signing key's public half). It never
// holds a secret: DSNs lose their passwords, URLs their user info, and keys stay behind.
//
// The plugin writes it, signed like a manifest, at every backup destination under Key whenever
// the settings change and with every backup; drctl reads it with --from and checks who signed
// it (Trust) before acting on it. Credentials come from the operator's environment.
package drsettings
