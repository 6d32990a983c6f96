import {id as pluginId} from '../manifest';

import type {
    AuditRecord,
    BackupEntry,
    BackupList,
    FailoverActionResult,
    FailoverStatus,
    FailoverStep,
    FallbackList,
    FallbackRecord,
    JobInfo,
    SSOFallbackRequest,
    SSOOutcome,
    SSOReport,
    SSORestoreRequest,
    SSOStarted,
    StatusReport,
    VersionInfo,
} from './types';

/**
 * An answer of the plugin's API that is not a success, or a request that did not get one.
 * `message` is the server's own text (the "error" field of its JSON body) whenever it sent one.
 */
export class ApiError extends Error {
    constructor(
        message: string,
        readonly status: number, // 0: no answer (network error, or an answer that is not JSON)
        readonly method: string,
        readonly path: string,

        // The route itself does not exist on this server (Go's ServeMux answers a plain-text
        // 404), as opposed to a route that answers 404 about a thing (a JSON error body).
        readonly routeMissing = false,
    ) {
        super(message);
        this.name = 'ApiError';
    }

    /** The server refused the session: not logged in (401) or not a system admin (403). */
    get refused(): boolean {
        return this.status === 401 || this.status === 403;
    }
}

/** Reads a cookie of the page (the web app's MMCSRF cookie holds the session's CSRF token). */
export function readCookie(name: string): string | undefined {
    for (const part of document.cookie.split(';')) {
        const [key, ...value] = part.trim().split('=');
        if (key === name) {
            return decodeURIComponent(value.join('='));
        }
    }
    return undefined;
}

function errorText(body: string): {text: string; json: boolean} {
    try {
        const parsed: unknown = JSON.parse(body);
        if (typeof parsed === 'object' && parsed !== null) {
            const {error, message} = parsed as {error?: unknown; message?: unknown};
            if (typeof error === 'string' && error !== '') {
                return {text: error, json: true};
            }

            // Mattermost's own errors (e.g. the plugin is disabled) use "message".
            if (typeof message === 'string' && message !== '') {
                return {text: message, json: true};
            }
        }
    } catch {
        // Not JSON: the text itself is the message.
    }
    const trimmed = body.trim();
    return {text: trimmed.length > 300 ? `${trimmed.slice(0, 300)}…` : trimmed, json: false};
}

const array = <T>(value: unknown): T[] => (Array.isArray(value) ? value as T[] : []);

/**
 * The plugin's REST API at `${siteURL}/plugins/disaster-recovery/api/v1`, called with the
 * browser's Mattermost session (cookies) the way the web app calls its own API.
 */
export class DrClient {
    constructor(private readonly siteURL: () => string) {}

    get base(): string {
        return `${this.siteURL().replace(/\/+$/, '')}/plugins/${pluginId}/api/v1`;
    }

    /** URL of the audit trail export, for a link (a GET, so the session cookie suffices). */
    exportURL(format: 'jsonl' | 'csv'): string {
        return `${this.base}/audit/export${format === 'csv' ? '?format=csv' : ''}`;
    }

    async request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
        const headers: Record<string, string> = {
            Accept: 'application/json',
            'X-Requested-With': 'XMLHttpRequest',
        };
        if (method !== 'GET') {
            // Mattermost refuses cookie-authenticated writes without the session's CSRF token.
            const csrf = readCookie('MMCSRF');
            if (csrf) {
                headers['X-CSRF-Token'] = csrf;
            }
        }
        if (body !== undefined) {
            headers['Content-Type'] = 'application/json';
        }

        let response: Response;
        try {
            response = await fetch(this.base + path, {
                method,
                headers,
                credentials: 'include',
                body: body === undefined ? undefined : JSON.stringify(body),
                signal,
            });
        } catch (err) {
            if (signal?.aborted) {
                throw err; // the caller cancelled: not an error to show
            }
            throw new ApiError(`${method} ${path}: cannot reach the server: ${err instanceof Error ? err.message : String(err)}`, 0, method, path);
        }

        const text = await response.text();
        if (!response.ok) {
            const {text: message, json} = errorText(text);
            const routeMissing = response.status === 404 && !json;
            throw new ApiError(
                message || `${method} ${path} failed: HTTP ${response.status} ${response.statusText}`.trim(),
                response.status,
                method,
                path,
                routeMissing,
            );
        }
        try {
            return JSON.parse(text) as T;
        } catch {
            throw new ApiError(`${method} ${path}: the server's answer is not JSON: ${errorText(text).text}`, 0, method, path);
        }
    }

    /** The DR status; fresh runs every probe now instead of taking the server's cached run. */
    async status(signal?: AbortSignal, fresh = false): Promise<StatusReport> {
        const r = await this.request<Partial<StatusReport>>('GET', fresh ? '/status?fresh=true' : '/status', undefined, signal);
        return {
            verdict: typeof r.verdict === 'string' ? r.verdict : 'unknown',
            reasons: array(r.reasons),
            results: array(r.results),
            checked_at: r.checked_at ?? '',
            duration_ns: r.duration_ns ?? 0,
            cached: r.cached ?? false,
        };
    }

    /** The plugin's version and the problems with its settings and ops channel. */
    async version(signal?: AbortSignal): Promise<VersionInfo> {
        const r = await this.request<Partial<VersionInfo>>('GET', '/version', undefined, signal);
        return {plugin: r.plugin ?? '', server: r.server ?? '', node: r.node ?? '', pg_dump: r.pg_dump ?? '', problems: array(r.problems)};
    }

    async backups(signal?: AbortSignal): Promise<BackupList> {
        const r = await this.request<Partial<BackupList>>('GET', '/backups', undefined, signal);
        return {
            backups: array<BackupEntry>(r.backups),
            problems: array(r.problems),
            running: r.running ?? null,
            verifying: r.verifying ?? null,
            untrusted: array<BackupEntry>(r.untrusted),
            ...(r.signing_key ? {signing_key: r.signing_key} : {}),
        };
    }

    startBackup(): Promise<JobInfo> {
        // Empty: the components and destinations of the plugin's settings.
        return this.request<JobInfo>('POST', '/backups', {only: [], destination: ''});
    }

    cancelBackup(): Promise<{cancelled: JobInfo | null}> {
        return this.request('POST', '/backups/cancel');
    }

    verifyBackup(id: string, drill: boolean): Promise<JobInfo> {
        return this.request<JobInfo>('POST', `/backups/${encodeURIComponent(id)}/verify`, {drill});
    }

    setPinned(id: string, pinned: boolean): Promise<{id: string; pinned: boolean}> {
        return this.request(pinned ? 'POST' : 'DELETE', `/backups/${encodeURIComponent(id)}/pin`);
    }

    deleteBackup(id: string): Promise<{deleted: string}> {
        return this.request('DELETE', `/backups/${encodeURIComponent(id)}?confirm=true`);
    }

    async fallbacks(signal?: AbortSignal): Promise<FallbackRecord[]> {
        const r = await this.request<Partial<FallbackList>>('GET', '/sso/fallbacks', undefined, signal);
        return array<FallbackRecord>(r.fallbacks);
    }

    // The server answers a small run with its report (200), a large one with its job (202).
    private async ssoRun(path: string, body: unknown): Promise<SSOOutcome> {
        const r = await this.request<Partial<SSOReport & SSOStarted>>('POST', path, body);
        if (r.job) {
            return {started: {job: r.job, users: r.users ?? -1}};
        }
        return {report: {results: array(r.results), duration: r.duration ?? 0}};
    }

    restoreSSO(req: SSORestoreRequest): Promise<SSOOutcome> {
        return this.ssoRun('/sso/restore', req);
    }

    /** Switches named users to email/password; never all (that stays a chat command). */
    startSSOFallback(req: SSOFallbackRequest): Promise<SSOOutcome> {
        return this.ssoRun('/sso/fallback', {...req, all: false, service: ''});
    }

    /** The current or last failover runbook. */
    async failover(signal?: AbortSignal): Promise<FailoverStatus> {
        const r = await this.request<Partial<FailoverStatus>>('GET', '/failover', undefined, signal);
        const run = r.run ? {...r.run, steps: array<FailoverStep>(r.run.steps)} : null;
        return {run, running: r.running ?? false, job: r.job ?? null};
    }

    /**
     * Confirm the step that waits, resume after a failure or a crash, or abort the runbook. The
     * body names the runbook and step the admin saw, so that a server that checks them can
     * refuse an action meant for a step another admin has moved on from.
     */
    failoverAction(action: 'confirm' | 'resume' | 'abort', seen: {run: string; step: string}): Promise<FailoverActionResult> {
        return this.request<FailoverActionResult>('POST', `/failover/${action}`, seen);
    }

    async audit(limit: number, signal?: AbortSignal): Promise<AuditRecord[]> {
        return array<AuditRecord>(await this.request<unknown>('GET', `/audit?limit=${limit}`, undefined, signal));
    }
}
