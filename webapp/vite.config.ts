import {fileURLToPath} from 'node:url';

import {defineConfig} from 'vitest/config';

import {readPluginManifest} from './build-tools/plugin_manifest.ts';

const PLUGIN_ID = 'disaster-recovery';

// The Mattermost web app provides these libraries as globals; the plugin must
// use the host's copies (one React per page), so they are never bundled.
const HOST_GLOBALS: Record<string, string> = {
    react: 'React',
    'react-dom': 'ReactDOM',
    redux: 'Redux',
    'react-redux': 'ReactRedux',
};

const manifest = readPluginManifest(fileURLToPath(new URL('../plugin.json', import.meta.url)));
if (manifest.id !== undefined && manifest.id !== PLUGIN_ID) {
    throw new Error(`../plugin.json has id "${manifest.id}", but the webapp is built for "${PLUGIN_ID}"`);
}

export default defineConfig(({command}) => ({
    define: {
        __PLUGIN_VERSION__: JSON.stringify(manifest.version),

        // Library mode leaves process.env.NODE_ENV in place; the bundle runs in
        // a browser where `process` does not exist, so it is replaced here.
        ...(command === 'build' ? {'process.env.NODE_ENV': JSON.stringify('production')} : {}),
    },

    // Classic JSX runtime: JSX compiles to React.createElement, using the
    // host's window.React, so react/jsx-runtime is never pulled into the bundle.
    oxc: {
        jsx: {
            runtime: 'classic',
            pragma: 'React.createElement',
            pragmaFrag: 'React.Fragment',
        },
    },

    build: {
        outDir: 'dist',
        emptyOutDir: true,
        copyPublicDir: false,
        sourcemap: false,
        lib: {
            entry: fileURLToPath(new URL('./src/index.tsx', import.meta.url)),
            name: 'DisasterRecoveryPlugin',
            formats: ['iife'],
            fileName: () => 'main.js',
        },
        rolldownOptions: {
            external: Object.keys(HOST_GLOBALS),
            output: {
                globals: HOST_GLOBALS,
            },
        },
    },

    test: {
        environment: 'jsdom',
        setupFiles: ['./src/test/setup.ts'],
        include: ['src/**/*.test.{ts,tsx}', 'build-tools/**/*.test.ts'],
        restoreMocks: true,
    },
}));
