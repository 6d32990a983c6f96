// Minimal typings for the plugin API that the Mattermost web app hands to
// plugins. Mattermost publishes no package for these, so only the parts this
// plugin uses (or is about to use) are declared; extend as needed.
import type React from 'react';

export interface AdminConsoleCustomSettingOptions {
    showTitle?: boolean;
}

export interface CustomSettingProps {
    id: string;
    label: string;
    helpText: React.ReactNode;
    value: unknown;
    disabled: boolean;
    config: unknown;
    license: unknown;
    setByEnv: boolean;
    onChange: (id: string, value: unknown) => void;
    setSaveNeeded: () => void;
    registerSaveAction: (action: () => Promise<unknown>) => void;
    unRegisterSaveAction: (action: () => Promise<unknown>) => void;
}

export interface PluginRegistry {
    registerRootComponent(component: React.ComponentType): string;
    registerAdminConsoleCustomSetting(
        key: string,
        component: React.ComponentType<CustomSettingProps>,
        options?: AdminConsoleCustomSettingOptions,
    ): void;
    registerReducer(reducer: (state: unknown, action: unknown) => unknown): void;
    unregisterComponent(componentId: string): void;
}

export interface PluginInstance {
    initialize?(registry: PluginRegistry, store: unknown): void | Promise<void>;
    uninitialize?(): void;
}

declare global {
    interface Window {
        registerPlugin(pluginId: string, plugin: PluginInstance): void;

        // Set by the web app when Mattermost is served under a subpath ("/chat"); else unset.
        basename?: string;
    }
}
