// Replaced at build (and test) time by Vite `define`: the version from
// ../plugin.json, or '0.0.0-dev' when that file does not exist.
declare const __PLUGIN_VERSION__: string;
