import {render, screen, waitFor} from '@testing-library/react';
import React from 'react';
import {afterEach, beforeEach, describe, expect, it, vi} from 'vitest';

import type {CustomSettingProps, PluginInstance, PluginRegistry} from './types/mattermost-webapp';

const fakeRegistry = (): PluginRegistry => ({
    registerRootComponent: vi.fn(() => 'component-id'),
    registerAdminConsoleCustomSetting: vi.fn(),
    registerReducer: vi.fn(),
    unregisterComponent: vi.fn(),
});

const settingProps: CustomSettingProps = {
    id: 'DRDashboard',
    label: 'Disaster recovery dashboard',
    helpText: null,
    value: undefined,
    disabled: false,
    config: {},
    license: {},
    setByEnv: false,
    onChange: vi.fn(),
    setSaveNeeded: vi.fn(),
    registerSaveAction: vi.fn(),
    unRegisterSaveAction: vi.fn(),
};

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
        window.basename = undefined;
    });

    it('registers itself with the web app under the plugin id', async () => {
        await import('./index');

        expect(registerPlugin).toHaveBeenCalledTimes(1);
        const [id, plugin] = registerPlugin.mock.calls[0] ?? [];
        expect(id).toBe('disaster-recovery');
        expect(typeof plugin?.initialize).toBe('function');
    });

    it('registers the dashboard as the DRDashboard custom setting, full width, and nothing else', async () => {
        await import('./index');
        const plugin = registerPlugin.mock.calls[0]?.[1];
        const registry = fakeRegistry();

        await plugin?.initialize?.(registry, {getState: vi.fn(), dispatch: vi.fn(), subscribe: vi.fn()});

        expect(registry.registerAdminConsoleCustomSetting).toHaveBeenCalledTimes(1);
        expect(registry.registerAdminConsoleCustomSetting).toHaveBeenCalledWith('DRDashboard', expect.any(Function), {showTitle: false});
        expect(registry.registerRootComponent).not.toHaveBeenCalled();
        expect(registry.registerReducer).not.toHaveBeenCalled();
        expect(() => plugin?.uninitialize?.()).not.toThrow();
    });

    it('renders the registered setting against the plugin API under the web app\'s subpath', async () => {
        window.basename = '/chat';
        const fetchMock = vi.fn((_url: string, _init?: RequestInit) => Promise.resolve(
            new Response(JSON.stringify({error: 'forbidden: the Disaster Recovery API is for system admins only'}), {status: 403}),
        ));
        vi.stubGlobal('fetch', fetchMock);
        await import('./index');
        const registry = fakeRegistry();
        await registerPlugin.mock.calls[0]?.[1].initialize?.(registry, {getState: vi.fn(), dispatch: vi.fn(), subscribe: vi.fn()});
        const Setting = vi.mocked(registry.registerAdminConsoleCustomSetting).mock.calls[0]?.[1];
        expect(Setting).toBeDefined();
        if (!Setting) {
            return;
        }

        render(<Setting {...settingProps}/>);

        await waitFor(() => expect(screen.getByTestId('dr-refusal').textContent).toContain('for system admins only (HTTP 403)'));
        expect(fetchMock.mock.calls.map(([url]) => url).sort()).toEqual([
            `${window.location.origin}/chat/plugins/disaster-recovery/api/v1/audit?limit=10`,
            `${window.location.origin}/chat/plugins/disaster-recovery/api/v1/backups`,
            `${window.location.origin}/chat/plugins/disaster-recovery/api/v1/failover`,
            `${window.location.origin}/chat/plugins/disaster-recovery/api/v1/sso/fallbacks`,
            `${window.location.origin}/chat/plugins/disaster-recovery/api/v1/status`,
            `${window.location.origin}/chat/plugins/disaster-recovery/api/v1/version`,
        ]);
        expect(settingProps.onChange).not.toHaveBeenCalled();
    });
});
