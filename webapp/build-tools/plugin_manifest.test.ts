// @vitest-environment node
import {fileURLToPath} from 'node:url';

import {describe, expect, it} from 'vitest';

import {FALLBACK_VERSION, readPluginManifest} from './plugin_manifest';

const testdata = (name: string): string => fileURLToPath(new URL(`./testdata/${name}`, import.meta.url));

describe('readPluginManifest', () => {
    it('reads id and version from an existing plugin.json', () => {
        expect(readPluginManifest(testdata('plugin.json'))).toEqual({id: 'disaster-recovery', version: '1.2.3'});
    });

    it('falls back to the dev version when the file does not exist', () => {
        expect(readPluginManifest(testdata('does_not_exist.json'))).toEqual({version: FALLBACK_VERSION});
        expect(FALLBACK_VERSION).toBe('0.0.0-dev');
    });

    it('falls back to the dev version when the manifest has no version', () => {
        expect(readPluginManifest(testdata('no_version.json'))).toEqual({id: 'disaster-recovery', version: FALLBACK_VERSION});
    });

    it('rejects a manifest that is not valid JSON', () => {
        expect(() => readPluginManifest(testdata('broken.json'))).toThrow(/cannot parse/);
    });

    it('rejects a non-string version', () => {
        expect(() => readPluginManifest(testdata('bad_version.json'))).toThrow(/"version" must be a non-empty string/);
    });
});
