// The part of the Mattermost web app a plugin meets: the globals its bundle expects, a Redux
// store, window.registerPlugin and a registry that records every call, and the System
// Console's way of rendering a custom setting. Driven by console.mjs through window.drHost.
import * as Redux from './redux.browser.mjs';
import {loadSettings, renderSection} from './settings_page.js';

// The bundle's externals are React, ReactDOM, Redux and ReactRedux (vite.config.ts); it
// references only the ones it imports. ReactRedux is not provided here: no plugin code uses it,
// and if some ever does, loading the bundle fails with "ReactRedux is not defined".
window.Redux = Redux;

const plugins = {};
const calls = [];
const settings = {};

function describe(value) {
    if (typeof value === 'function') {
        return `<function ${value.displayName || value.name || 'anonymous'}>`;
    }
    return value;
}

// Every registry method the plugin calls is recorded, so the test sees exactly what it did.
const registry = new Proxy({}, {
    get(_target, method) {
        return (...args) => {
            calls.push({method: String(method), args: args.map(describe)});
            if (method === 'registerAdminConsoleCustomSetting') {
                const [key, component, options] = args;

                // The web app keys custom settings case-insensitively.
                settings[String(key).toLowerCase()] = {component, options};
            }
            return `${String(method)}-${calls.length}`;
        };
    },
});

window.registerPlugin = (id, plugin) => {
    plugins[id] = plugin;
};

async function check(response, what) {
    if (!response.ok) {
        throw new Error(`${what}: HTTP ${response.status}: ${await response.text()}`);
    }
    return response.json();
}

window.drHost = {
    calls,

    // Logs in the way the web app's login page does; the server answers with the session
    // cookies (MMAUTHTOKEN, MMUSERID, MMCSRF) for this origin.
    async login(loginId, password) {
        const user = await check(await fetch('/api/v4/users/login', {
            method: 'POST',
            headers: {'Content-Type': 'application/json', 'X-Requested-With': 'XMLHttpRequest'},
            body: JSON.stringify({login_id: loginId, password}),
        }), `log in as ${loginId}`);
        return {id: user.id, username: user.username, roles: user.roles};
    },

    // Loads a plugin's bundle as the web app does: from the manifest the server lists at
    // /api/v4/plugins/webapp, then initialize(registry, store).
    async loadPlugin(id) {
        const manifests = await check(await fetch('/api/v4/plugins/webapp', {headers: {'X-Requested-With': 'XMLHttpRequest'}}), 'list webapp plugins');
        const manifest = manifests.find((m) => m.id === id);
        if (!manifest?.webapp?.bundle_path) {
            throw new Error(`the server lists no webapp bundle for ${id} (it lists ${JSON.stringify(manifests.map((m) => m.id))})`);
        }
        let path = manifest.webapp.bundle_path;
        if (path.includes('/static/') && !path.includes('/static/plugins/')) {
            path = path.replace('/static/', '/static/plugins/');
        }
        const src = window.location.origin + path;
        await new Promise((resolve, reject) => {
            const script = document.createElement('script');
            script.src = src;
            script.onload = resolve;
            script.onerror = () => reject(new Error(`cannot load the bundle ${src}`));
            document.head.appendChild(script);
        });
        const plugin = plugins[id];
        if (!plugin) {
            throw new Error(`the bundle ${src} did not call registerPlugin("${id}", …)`);
        }
        const store = Redux.legacy_createStore((state) => state, {
            entities: {general: {config: {SiteURL: window.location.origin}}},
        });
        await plugin.initialize(registry, store);
        return {bundleURL: src, version: manifest.version, calls: calls.map((c) => ({method: c.method, args: c.args}))};
    },

    // The plugin's settings page, one section at a time (settings_page.js).
    async settingsSections(id) {
        this.settings = await loadSettings(id);
        return this.settings.schema.sections.map((s) => ({key: s.key, title: s.title, count: s.settings.length, custom: s.settings.some((x) => x.type === 'custom')}));
    },

    showSection(key) {
        document.body.classList.add('settings-mode');
        return renderSection(this.settings, key, document.getElementById('root'));
    },

    // Renders a registered custom setting with the props the System Console gives it.
    render(key, label) {
        const setting = settings[key.toLowerCase()];
        if (!setting) {
            throw new Error(`no custom setting ${key} was registered (registered: ${Object.keys(settings).join(', ') || 'none'})`);
        }
        const props = {
            id: key,
            label,
            helpText: null,
            value: undefined,
            disabled: false,
            config: {},
            license: {},
            setByEnv: false,
            onChange: (id, value) => calls.push({method: 'props.onChange', args: [id, value]}),
            setSaveNeeded: () => calls.push({method: 'props.setSaveNeeded', args: []}),
            registerSaveAction: () => undefined,
            unRegisterSaveAction: () => undefined,
        };
        window.ReactDOM.createRoot(document.getElementById('root')).render(window.React.createElement(setting.component, props));
    },
};
