// Build-time helper: reads the server plugin's manifest (../plugin.json) so the
// webapp bundle carries the same version as the server side of the plugin.
import {existsSync, readFileSync} from 'node:fs';

export const FALLBACK_VERSION = '0.0.0-dev';

export interface PluginManifestInfo {

    /** Plugin id from plugin.json, or undefined when the file is absent. */
    id?: string;
    version: string;
}

/**
 * Reads `id` and `version` from the plugin manifest at `manifestPath`.
 * A missing file is not an error (the manifest may not exist yet during
 * development): the version then falls back to FALLBACK_VERSION.
 * A file that exists but cannot be parsed, or has a non-string version, is an
 * error, so that a broken manifest never silently produces a '-dev' bundle.
 */
export function readPluginManifest(manifestPath: string): PluginManifestInfo {
    if (!existsSync(manifestPath)) {
        return {version: FALLBACK_VERSION};
    }

    let parsed: unknown;
    try {
        parsed = JSON.parse(readFileSync(manifestPath, 'utf8'));
    } catch (err) {
        throw new Error(`cannot parse ${manifestPath}: ${String(err)}`);
    }
    if (typeof parsed !== 'object' || parsed === null) {
        throw new Error(`${manifestPath}: expected a JSON object`);
    }

    const {id, version} = parsed as {id?: unknown; version?: unknown};
    if (id !== undefined && typeof id !== 'string') {
        throw new Error(`${manifestPath}: "id" must be a string`);
    }
    if (version === undefined) {
        return {id, version: FALLBACK_VERSION};
    }
    if (typeof version !== 'string' || version === '') {
        throw new Error(`${manifestPath}: "version" must be a non-empty string`);
    }
    return {id, version};
}
