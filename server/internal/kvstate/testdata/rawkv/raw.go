// Package rawkv is a fixture of the registry scan: KV calls whose keys keys.go does not list.
package rawkv

import "github.com/mattermost/mattermost/server/public/pluginapi"

const unlistedKey = "not/registered"

func use(kv *pluginapi.KVService, key string) {
	_, _ = kv.Set(unlistedKey, 1)
	_, _ = kv.Set("sso/fb/"+key, 1)
	_ = kv.Get(key, nil)
}
