import {describe, expect, it} from 'vitest';

import manifest, {id, version} from './manifest';

describe('manifest', () => {
    it('has the plugin id shared with the server', () => {
        expect(id).toBe('disaster-recovery');
        expect(manifest.id).toBe(id);
    });

    it('has a version injected at build time', () => {
        expect(version).toMatch(/^\d+\.\d+\.\d+/);
        expect(manifest.version).toBe(version);
    });
});
