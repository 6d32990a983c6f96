import {act, renderHook, waitFor} from '@testing-library/react';
import {describe, expect, it} from 'vitest';

import {DrClient} from '../../api/client';
import {FakeApi, SITE, json} from '../../test/fake_api';
import {AUDIT, FALLBACKS, NO_RUNBOOK, backupList, degradedStatus, healthyStatus} from '../../test/fixtures';

import {LagHistory} from './lag_history';
import {useDashboardPolling, type PollingOptions} from './use_dashboard_polling';

const VERSION = {plugin: '0.1.0', server: '11.4.0', node: 'app-1', pg_dump: '/usr/lib/postgresql/16/bin/pg_dump (16)', problems: []};
const JOB = {id: 'job-1', started: '2026-03-02T10:00:00Z', progress: 'dumping the database'};

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function server(): FakeApi {
    return new FakeApi().
        on('GET', '/status', {status: 200, body: healthyStatus()}).
        on('GET', '/backups', {status: 200, body: backupList()}).
        on('GET', '/sso/fallbacks', {status: 200, body: {fallbacks: FALLBACKS, running: null}}).
        on('GET', '/audit', {status: 200, body: AUDIT}).
        on('GET', '/version', {status: 200, body: VERSION}).
        on('GET', '/failover', {status: 200, body: NO_RUNBOOK});
}

function poll(api: FakeApi, opts: Partial<PollingOptions> = {}) {
    api.install();
    const options: PollingOptions = {client: new DrClient(() => SITE), lagHistory: new LagHistory(), pollFastMs: 20, pollSlowMs: 60_000, auditLimit: 10, ...opts};
    return renderHook((o: PollingOptions) => useDashboardPolling(o), {initialProps: options});
}

const freshStatusCalls = (api: FakeApi): number => api.calls.filter((c) => c.path === '/status' && c.query === '?fresh=true').length;

describe('useDashboardPolling', () => {
    it('loads the six routes at once, the cached status and the audit limit asked for', async () => {
        const api = server();
        const {result} = poll(api, {auditLimit: 7});
        expect(result.current.snap.loaded).toBe(false);

        await waitFor(() => expect(result.current.snap.loaded).toBe(true));
        expect(api.calls.map((c) => `${c.method} ${c.path}${c.query}`).sort()).toEqual(['GET /audit?limit=7', 'GET /backups', 'GET /failover', 'GET /sso/fallbacks', 'GET /status', 'GET /version']);
        const {snap} = result.current;
        expect(snap.status.data?.verdict).toBe('healthy');
        expect(snap.backups.data?.backups).toHaveLength(2);
        expect(snap.fallbacks.data).toEqual(FALLBACKS);
        expect(snap.audit.data).toEqual(AUDIT);
        expect(snap.version.data).toEqual(VERSION);
        expect(snap.refusal).toBeUndefined();
        expect(snap.updatedAt).toBeGreaterThan(0);
    });

    it('polls slowly while no job runs, fast while one does', async () => {
        const api = server();
        const {unmount} = poll(api, {pollFastMs: 20, pollSlowMs: 150});
        await waitFor(() => expect(api.count('GET', '/backups')).toBe(1));
        await sleep(60);
        expect(api.count('GET', '/backups')).toBe(1);
        await waitFor(() => expect(api.count('GET', '/backups')).toBe(2));
        unmount();

        const busy = server().on('GET', '/backups', {status: 200, body: backupList({running: JOB})});
        poll(busy, {pollFastMs: 20, pollSlowMs: 60_000});
        await waitFor(() => expect(busy.count('GET', '/backups')).toBeGreaterThanOrEqual(4));
    });

    it('counts a verification as a running job', async () => {
        const api = server().on('GET', '/backups', {status: 200, body: backupList({verifying: JOB})});
        poll(api);
        await waitFor(() => expect(api.count('GET', '/backups')).toBeGreaterThanOrEqual(3));
    });

    it('stops polling on unmount, and refreshNow then does nothing', async () => {
        const api = server();
        const {result, unmount} = poll(api, {pollFastMs: 20, pollSlowMs: 20});
        await waitFor(() => expect(api.count('GET', '/backups')).toBeGreaterThanOrEqual(2));
        const refresh = result.current.refreshNow;
        unmount();
        const calls = api.calls.length;
        refresh.current(true, false);
        await sleep(100);
        expect(api.calls.length).toBe(calls);
    });

    it('ignores the answers that arrive after unmount', async () => {
        let answer: (r: Response) => void = () => undefined;
        const api = server().on('GET', '/backups', () => new Promise<Response>((resolve) => {
            answer = resolve;
        }));
        const {result, unmount} = poll(api);
        await waitFor(() => expect(api.count('GET', '/backups')).toBe(1));
        const before = result.current.snap;
        unmount();
        answer(json(200, backupList()));
        await sleep(50);
        expect(result.current.snap).toBe(before);
        expect(before.loaded).toBe(false);
    });

    it('keeps the last answer of a route that fails, with its error, and goes on polling', async () => {
        let n = 0;
        const api = server().on('GET', '/backups', () => (n++ === 0 ? json(200, backupList()) : json(503, {error: 'the plugin is restarting'})));
        const {result} = poll(api, {pollSlowMs: 30});
        await waitFor(() => expect(result.current.snap.backups.error).toBeDefined());
        const {backups, status} = result.current.snap;
        expect(backups.data?.backups).toHaveLength(2);
        expect(backups.error?.status).toBe(503);
        expect(backups.error?.message).toBe('the plugin is restarting');
        expect(status.error).toBeUndefined();
        expect(result.current.snap.refusal).toBeUndefined();
        const seen = api.count('GET', '/backups');
        await waitFor(() => expect(api.count('GET', '/backups')).toBeGreaterThan(seen));
    });

    it('stops polling once the server refuses the session', async () => {
        const api = server().on('GET', '/version', {status: 403, body: {error: 'forbidden'}});
        const {result} = poll(api, {pollFastMs: 20, pollSlowMs: 20});
        await waitFor(() => expect(result.current.snap.refusal?.status).toBe(403));
        expect(result.current.snap.loaded).toBe(true);
        expect(result.current.snap.backups.data).toBeDefined();
        await sleep(100);
        expect(api.count('GET', '/backups')).toBe(1);
    });

    it('refreshNow refreshes at once, with a fresh status run when asked', async () => {
        const api = server();
        const {result} = poll(api);
        await waitFor(() => expect(result.current.snap.loaded).toBe(true));
        act(() => result.current.refreshNow.current(false, false));
        await waitFor(() => expect(api.count('GET', '/backups')).toBe(2));
        expect(api.last('GET', '/status')?.query).toBe('');
        act(() => result.current.refreshNow.current(true, false));
        await waitFor(() => expect(api.count('GET', '/backups')).toBe(3));
        expect(api.last('GET', '/status')?.query).toBe('?fresh=true');
    });

    it('asks for one fresh status run after a job ends', async () => {
        const api = server().sequence('GET', '/backups', [backupList({running: JOB}), backupList({running: JOB}), backupList()]);
        poll(api, {pollFastMs: 20, pollSlowMs: 60_000});
        await waitFor(() => expect(freshStatusCalls(api)).toBe(1));
        await sleep(100);
        expect(freshStatusCalls(api)).toBe(1);
    });

    it('treats a job the page started as running, even if no poll saw it', async () => {
        const api = server();
        const {result} = poll(api, {pollFastMs: 20, pollSlowMs: 60_000});
        await waitFor(() => expect(result.current.snap.loaded).toBe(true));
        act(() => result.current.refreshNow.current(false, true));
        await waitFor(() => expect(freshStatusCalls(api)).toBe(1));
    });

    it('lets the newest refresh win over an older one still pending', async () => {
        let first = true;
        let answerFirst: (r: Response) => void = () => undefined;
        const api = server().on('GET', '/status', () => {
            if (first) {
                first = false;
                return new Promise<Response>((resolve) => {
                    answerFirst = resolve;
                });
            }
            return json(200, degradedStatus(5));
        });
        const {result} = poll(api);
        await waitFor(() => expect(api.count('GET', '/status')).toBe(1));
        act(() => result.current.refreshNow.current(false, false));
        await waitFor(() => expect(result.current.snap.status.data?.verdict).toBe('degraded'));
        answerFirst(json(200, healthyStatus()));
        await sleep(50);
        expect(result.current.snap.status.data?.verdict).toBe('degraded');
    });

    it('records the status results in the lag history', async () => {
        const lagHistory = new LagHistory();
        const api = server().on('GET', '/status', {status: 200, body: degradedStatus(7, new Date().toISOString())});
        const {result} = poll(api, {lagHistory});
        await waitFor(() => expect(result.current.snap.lag).toHaveLength(1));
        expect(result.current.snap.lag[0]?.points.map((p) => p.v)).toEqual([7]);
    });

    it('starts over when its options change', async () => {
        const api = server();
        const {result, rerender} = poll(api);
        await waitFor(() => expect(api.count('GET', '/audit')).toBe(1));
        rerender({client: new DrClient(() => SITE), lagHistory: new LagHistory(), pollFastMs: 20, pollSlowMs: 60_000, auditLimit: 3});
        await waitFor(() => expect(api.last('GET', '/audit')?.query).toBe('?limit=3'));
        expect(result.current.snap.loaded).toBe(true);
    });
});
