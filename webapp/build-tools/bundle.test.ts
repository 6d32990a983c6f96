// @vitest-environment node
// Builds the bundle with the real vite.config.ts (in memory, nothing written to
// dist/) and checks what Mattermost will load with a <script> tag.
import {fileURLToPath} from 'node:url';
import vm from 'node:vm';

import React from 'react';
import {build, type Rolldown} from 'vite';
import {describe, expect, it, vi} from 'vitest';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

async function buildBundle(entry?: string): Promise<Rolldown.OutputChunk> {
    const result = await build({
        configFile: here('../vite.config.ts'),
        logLevel: 'silent',
        build: {
            write: false,
            // Merged into the config file's build.lib: only the entry changes.
            ...(entry ? {lib: {entry}} : {}),
        },
    });
    const outputs = Array.isArray(result) ? result : [result];
    expect(outputs).toHaveLength(1);
    const files = (outputs[0] as Rolldown.RolldownOutput).output;
    expect(files.map((f) => f.fileName)).toEqual(['main.js']);
    return files[0];
}

// Strings found in any bundled copy of React or ReactDOM (development or
// production build).
const REACT_MARKERS = [
    '__SECRET_INTERNALS_DO_NOT_USE_OR_YOU_WILL_BE_FIRED',
    '__CLIENT_INTERNALS_DO_NOT_USE_OR_WARN_USERS_THEY_CANNOT_UPGRADE',
    'reactjs.org/docs/error-decoder',
    'react.dev/errors',
    'react.element',
    'react.transitional.element',
];

describe('bundle', () => {
    it('maps react, react-dom, redux and react-redux to the web app globals', async () => {
        const chunk = await buildBundle(here('./testdata/bundle_entry.js'));

        for (const marker of REACT_MARKERS) {
            expect(chunk.code).not.toContain(marker);
        }
        expect(chunk.code).not.toMatch(/\bprocess\b/);
        expect(chunk.code).not.toMatch(/\brequire\s*\(/);
        expect(chunk.code).not.toMatch(/^\s*(import|export)\b/m);

        const globals = {
            React,
            ReactDOM: {tag: 'ReactDOM'},
            Redux: {combineReducers: 'Redux.combineReducers'},
            ReactRedux: {connect: 'ReactRedux.connect'},
        };
        const window: Record<string, unknown> = {...globals};
        vm.runInNewContext(chunk.code, {...globals, window});

        const probe = window.bundleProbe as Record<string, unknown>;
        expect(probe.React).toBe(React);
        expect(probe.ReactDOM).toBe(globals.ReactDOM);
        expect(probe.combineReducers).toBe('Redux.combineReducers');
        expect(probe.connect).toBe('ReactRedux.connect');
        expect(probe.nodeEnv).toBe('production');
        expect(React.isValidElement(probe.element)).toBe(true);
    });

    it('registers the plugin when loaded as a classic script', async () => {
        const chunk = await buildBundle();
        expect(chunk.code).not.toMatch(/^\s*(import|export)\b/m);

        // The web app provides React as a global (window.React) before it loads plugins; the
        // dashboard is built with it. Nothing else from the host is needed to load the bundle.
        const registerPlugin = vi.fn();
        const window: Record<string, unknown> = {registerPlugin};
        vm.runInNewContext(chunk.code, {window, React});

        expect(registerPlugin).toHaveBeenCalledTimes(1);
        expect(registerPlugin.mock.calls[0]?.[0]).toBe('disaster-recovery');
        expect(typeof (registerPlugin.mock.calls[0]?.[1] as {initialize?: unknown}).initialize).toBe('function');

        // Nothing but registerPlugin is expected on window: no global variable
        // is leaked by the iife wrapper.
        expect(Object.keys(window)).toEqual(['registerPlugin']);
    });
});
