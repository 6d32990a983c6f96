import js from '@eslint/js';
import {defineConfig, globalIgnores} from 'eslint/config';
import react from 'eslint-plugin-react';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig([
    globalIgnores(['dist/', 'node_modules/', 'coverage/', 'build-tools/testdata/']),

    js.configs.recommended,

    {
        files: ['**/*.{ts,tsx}'],
        extends: [
            tseslint.configs.recommendedTypeChecked,
            tseslint.configs.stylisticTypeChecked,
        ],
        languageOptions: {
            parserOptions: {
                projectService: true,
                tsconfigRootDir: import.meta.dirname,
            },
        },
        rules: {
            '@typescript-eslint/consistent-type-imports': ['error', {fixStyle: 'inline-type-imports'}],
            '@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', varsIgnorePattern: '^_'}],
        },
    },

    {
        files: ['src/**/*.{ts,tsx}'],
        extends: [
            react.configs.flat.recommended,
            reactHooks.configs.flat.recommended,
        ],
        languageOptions: {
            globals: globals.browser,
        },
        settings: {
            react: {version: 'detect'},
        },
        rules: {
            // TypeScript checks props.
            'react/prop-types': 'off',
            'react/jsx-key': 'error',
            'react/jsx-no-target-blank': 'error',
            'react/self-closing-comp': 'error',
        },
    },

    {
        files: ['src/**/*.test.{ts,tsx}', 'build-tools/**/*.test.ts'],
        rules: {
            // expect(mock.method) reads a vi.fn(), not an unbound class method.
            '@typescript-eslint/unbound-method': 'off',
        },
    },

    {
        files: ['vite.config.ts', 'build-tools/**/*.ts', 'eslint.config.mjs', 'e2e/**/*.mjs'],
        languageOptions: {
            globals: globals.node,
        },
    },

    {
        // The real-browser test's host page runs in Chromium; the functions console.mjs passes
        // to page.evaluate do too.
        files: ['e2e/host.js', 'e2e/settings_page.js', 'e2e/console.mjs'],
        languageOptions: {
            globals: globals.browser,
        },
    },
]);
