// @vitest-environment node
import {readFileSync} from 'node:fs';
import {fileURLToPath} from 'node:url';

import type {PluginManifest} from '@mattermost/types/plugins';
import {describe, expect, it} from 'vitest';

import manifest, {id, version} from './manifest';
import {DASHBOARD_SETTING_KEY} from './site';

describe('manifest', () => {
    it('has the plugin id shared with the server', () => {
        expect(id).toBe('disaster-recovery');
        expect(manifest.id).toBe(id);
    });

    it('has a version injected at build time', () => {
        expect(version).toMatch(/^\d+\.\d+\.\d+/);
        expect(manifest.version).toBe(version);
    });

    it('declares the dashboard as a custom setting in ../plugin.json, or the System Console never shows it', () => {
        const pluginJSON = JSON.parse(readFileSync(fileURLToPath(new URL('../../plugin.json', import.meta.url)), 'utf8')) as PluginManifest;
        const settings = (pluginJSON.settings_schema?.sections ?? []).flatMap((s) => s.settings);
        const custom = settings.filter((s) => s.type === 'custom');
        expect(custom.map((s) => s.key)).toEqual([DASHBOARD_SETTING_KEY]);
        expect(custom[0]?.display_name).toBe('Disaster recovery dashboard');
    });
});
