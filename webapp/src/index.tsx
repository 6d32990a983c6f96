import type {GlobalState} from '@mattermost/types/store';
import React from 'react';
import type {Store} from 'redux';

import {DrClient} from './api/client';
import Dashboard from './components/dashboard/dashboard';
import manifest from './manifest';
import {DASHBOARD_SETTING_KEY, siteURL} from './site';
import type {PluginInstance, PluginRegistry} from './types/mattermost-webapp';

class Plugin implements PluginInstance {
    // Kept for what is registered later (unregistering needs the registry, reading state
    // outside React needs the store).
    registry?: PluginRegistry;
    store?: Store<GlobalState>;

    public initialize(registry: PluginRegistry, store: Store<GlobalState>): void {
        this.registry = registry;
        this.store = store;

        const client = new DrClient(siteURL);

        // The dashboard is a whole page section, not an input: it takes the full width and
        // has its own heading, and never calls onChange, so it stores nothing in the config.
        const DashboardSetting = (): React.JSX.Element => <Dashboard client={client}/>;
        DashboardSetting.displayName = 'DisasterRecoveryDashboardSetting';
        registry.registerAdminConsoleCustomSetting(DASHBOARD_SETTING_KEY, DashboardSetting, {showTitle: false});
    }

    public uninitialize(): void {
        this.registry = undefined;
        this.store = undefined;
    }
}

window.registerPlugin(manifest.id, new Plugin());
