// Identity of the plugin, shared with the server side (../plugin.json).
export const id = 'disaster-recovery';

// Injected at build time from ../plugin.json ('0.0.0-dev' when absent).
export const version: string = __PLUGIN_VERSION__;

const manifest = {id, version} as const;
export default manifest;
