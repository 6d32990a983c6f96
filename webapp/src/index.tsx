import type {GlobalState} from '@mattermost/types/store';
import type {Store} from 'redux';

import manifest from './manifest';
import type {PluginInstance, PluginRegistry} from './types/mattermost-webapp';

class Plugin implements PluginInstance {
    // Kept for the components registered later (they need the registry to
    // unregister and the store to read state outside React).
    registry?: PluginRegistry;
    store?: Store<GlobalState>;

    // Nothing is registered yet: the System Console dashboard will be added
    // here (registry.registerAdminConsoleCustomSetting) in a later change.
    public initialize(registry: PluginRegistry, store: Store<GlobalState>): void {
        this.registry = registry;
        this.store = store;
    }

    public uninitialize(): void {
        this.registry = undefined;
        this.store = undefined;
    }
}

window.registerPlugin(manifest.id, new Plugin());
