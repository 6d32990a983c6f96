import {afterEach, beforeEach, describe, expect, it, vi} from 'vitest';

import type {PluginInstance, PluginRegistry} from './types/mattermost-webapp';

const fakeRegistry = (): PluginRegistry => ({
    registerRootComponent: vi.fn(() => 'component-id'),
    registerAdminConsoleCustomSetting: vi.fn(),
    registerReducer: vi.fn(),
    unregisterComponent: vi.fn(),
});

describe('plugin entry point', () => {
    const originalRegisterPlugin = window.registerPlugin;
    let registerPlugin: ReturnType<typeof vi.fn<(id: string, plugin: PluginInstance) => void>>;

    beforeEach(() => {
        vi.resetModules();
        registerPlugin = vi.fn<(id: string, plugin: PluginInstance) => void>();
        window.registerPlugin = registerPlugin;
    });

    afterEach(() => {
        window.registerPlugin = originalRegisterPlugin;
    });

    it('registers itself with the web app under the plugin id', async () => {
        await import('./index');

        expect(registerPlugin).toHaveBeenCalledTimes(1);
        const [id, plugin] = registerPlugin.mock.calls[0] ?? [];
        expect(id).toBe('disaster-recovery');
        expect(typeof plugin?.initialize).toBe('function');
    });

    it('initializes without registering anything visible yet', async () => {
        await import('./index');
        const plugin = registerPlugin.mock.calls[0]?.[1];
        const registry = fakeRegistry();

        await plugin?.initialize?.(registry, {getState: vi.fn(), dispatch: vi.fn(), subscribe: vi.fn()});

        expect(registry.registerRootComponent).not.toHaveBeenCalled();
        expect(registry.registerAdminConsoleCustomSetting).not.toHaveBeenCalled();
        expect(registry.registerReducer).not.toHaveBeenCalled();
        expect(() => plugin?.uninitialize?.()).not.toThrow();
    });
});
