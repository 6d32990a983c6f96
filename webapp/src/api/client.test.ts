import {afterEach, beforeEach, describe, expect, it} from 'vitest';

import {FakeApi, SITE, json} from '../test/fake_api';

import {ApiError, DrClient, readCookie} from './client';

describe('readCookie', () => {
    afterEach(() => {
        document.cookie = 'MMCSRF=; expires=Thu, 01 Jan 1970 00:00:00 GMT';
        document.cookie = 'other=; expires=Thu, 01 Jan 1970 00:00:00 GMT';
    });

    it('reads one cookie among several, decoded', () => {
        document.cookie = 'other=1';
        document.cookie = 'MMCSRF=a%3Db';
        expect(readCookie('MMCSRF')).toBe('a=b');
        expect(readCookie('MMCSRFX')).toBeUndefined();
    });
});

describe('DrClient', () => {
    let api: FakeApi;
    const client = new DrClient(() => `${SITE}/`);

    beforeEach(() => {
        api = new FakeApi();
        api.install();
        document.cookie = 'MMCSRF=tok';
    });

    afterEach(() => {
        document.cookie = 'MMCSRF=; expires=Thu, 01 Jan 1970 00:00:00 GMT';
    });

    it('builds URLs below the site URL, without a double slash', () => {
        expect(client.base).toBe(`${SITE}/plugins/disaster-recovery/api/v1`);
        expect(client.exportURL('csv')).toBe(`${SITE}/plugins/disaster-recovery/api/v1/audit/export?format=csv`);
    });

    it('sends the CSRF token and a JSON body on writes only', async () => {
        api.on('POST', '/backups', {status: 202, body: {id: 'j1', started: '2026-03-02T10:00:00Z', progress: ''}});
        api.on('GET', '/backups', {status: 200, body: {backups: [], problems: null, running: null}});

        await expect(client.startBackup()).resolves.toEqual({id: 'j1', started: '2026-03-02T10:00:00Z', progress: ''});
        const post = api.last('POST', '/backups');
        expect(post?.headers).toEqual({
            Accept: 'application/json',
            'X-Requested-With': 'XMLHttpRequest',
            'X-CSRF-Token': 'tok',
            'Content-Type': 'application/json',
        });
        expect(post?.credentials).toBe('include');

        // Fields the server does not send (problems as null, verifying on older servers) are filled in.
        await expect(client.backups()).resolves.toEqual({backups: [], problems: [], running: null, verifying: null, untrusted: []});
        expect(api.last('GET', '/backups')?.headers).toEqual({Accept: 'application/json', 'X-Requested-With': 'XMLHttpRequest'});
    });

    it('sends no CSRF header when the page has no MMCSRF cookie (token auth)', async () => {
        document.cookie = 'MMCSRF=; expires=Thu, 01 Jan 1970 00:00:00 GMT';
        api.on('POST', '/backups/cancel', {status: 200, body: {cancelled: null}});
        await client.cancelBackup();
        expect(api.last('POST', '/backups/cancel')?.headers['X-CSRF-Token']).toBeUndefined();
    });

    it('escapes backup ids in paths', async () => {
        api.on('DELETE', '/backups/a%2Fb', {status: 200, body: {deleted: 'a/b'}});
        await client.deleteBackup('a/b');
        expect(api.last('DELETE', '/backups/a%2Fb')?.query).toBe('?confirm=true');
    });

    it('throws the "error" of a JSON error body with its status', async () => {
        api.on('GET', '/sso/fallbacks', {status: 500, body: {error: 'kv: connection refused'}});
        const err = await client.fallbacks().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ApiError);
        expect(err).toMatchObject({message: 'kv: connection refused', status: 500, method: 'GET', path: '/sso/fallbacks', routeMissing: false, refused: false});
    });

    it('throws Mattermost\'s own "message" (e.g. from the server, not the plugin)', async () => {
        api.on('GET', '/audit', () => json(503, {id: 'app.plugin.not_active', message: 'Plugin is not active.', status_code: 503}));
        await expect(client.audit(10)).rejects.toMatchObject({message: 'Plugin is not active.', status: 503});
    });

    it('tells a missing route (plain-text 404) from a 404 about a thing (JSON)', async () => {
        const missing = await client.status().catch((e: unknown) => e as ApiError);
        expect(missing).toMatchObject({status: 404, message: '404 page not found', routeMissing: true});

        api.on('POST', '/backups/nope/verify', {status: 404, body: {error: 'no complete backup "nope"'}});
        const notFound = await client.verifyBackup('nope', false).catch((e: unknown) => e as ApiError);
        expect(notFound).toMatchObject({status: 404, message: 'no complete backup "nope"', routeMissing: false});
    });

    it('marks 401 and 403 as refusals', async () => {
        api.on('GET', '/audit', {status: 403, body: {error: 'forbidden'}});
        await expect(client.audit(5)).rejects.toMatchObject({refused: true, status: 403});
        expect(api.last('GET', '/audit')?.query).toBe('?limit=5');
    });

    it('reports an answer that is not JSON', async () => {
        api.on('GET', '/backups', () => new Response('<html>proxy error</html>', {status: 200}));
        await expect(client.backups()).rejects.toMatchObject({status: 0, message: 'GET /backups: the server\'s answer is not JSON: <html>proxy error</html>'});
    });

    it('reports an error status with an empty body', async () => {
        api.on('GET', '/backups', () => new Response('', {status: 502, statusText: 'Bad Gateway'}));
        await expect(client.backups()).rejects.toMatchObject({status: 502, message: 'GET /backups failed: HTTP 502 Bad Gateway'});
    });

    it('rethrows a cancellation as is, so that it is not shown', async () => {
        const controller = new AbortController();
        api.on('GET', '/status', () => {
            controller.abort();
            return Promise.reject(new DOMException('The operation was aborted.', 'AbortError'));
        });
        const err = await client.status(controller.signal).catch((e: unknown) => e);
        expect(err).not.toBeInstanceOf(ApiError);
        expect((err as DOMException).name).toBe('AbortError');
    });
});
