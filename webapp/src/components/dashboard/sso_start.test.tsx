import {fireEvent, screen, waitFor, within} from '@testing-library/react';
import {afterEach, beforeEach, describe, expect, it} from 'vitest';

import {dashboardServer, renderDashboard} from '../../test/dashboard_page';
import {type FakeApi, json} from '../../test/fake_api';

import {parseUsernames} from './sso_section';

let api: FakeApi;

const scope = () => within(screen.getByTestId('dr-sso'));
type Scope = ReturnType<typeof scope>;

function server(): FakeApi {
    return dashboardServer();
}

async function renderForm(): Promise<Scope> {
    await renderDashboard(api);
    return scope();
}

function fill(sso: Scope, fields: {users?: string; reason?: string; expires?: string; delivery?: string}): void {
    const set = (label: string, value: string | undefined): void => {
        if (value !== undefined) {
            fireEvent.change(sso.getByLabelText(label), {target: {value}});
        }
    };
    set('Users', fields.users);
    set('Reason', fields.reason);
    set('Expires after', fields.expires);
    set('Delivery', fields.delivery);
}

const start = (sso: Scope): HTMLButtonElement => sso.getByRole<HTMLButtonElement>('button', {name: 'Start fallback…'});

beforeEach(() => {
    document.cookie = 'MMCSRF=csrf-token-123';
});

afterEach(() => {
    document.cookie = 'MMCSRF=; expires=Thu, 01 Jan 1970 00:00:00 GMT';
});

describe('parseUsernames', () => {
    it.each([
        ['@alice @bob', ['alice', 'bob'], undefined],
        ['alice, @Bob,alice', ['alice', 'bob'], undefined],
        ['', [], 'Name the users to switch, such as @alice @bob.'],
        ['@alice alice@example.com', ['alice', 'alice@example.com'], 'Not a username: alice@example.com. Use usernames (@alice), not display names or email addresses.'],
    ])('%j', (text, names, error) => {
        const got = parseUsernames(text);
        expect(got.error).toBe(error);
        if (!error) {
            expect(got.names).toEqual(names);
        }
    });
});

describe('Starting an SSO fallback from the dashboard', () => {
    it('asks with the chat\'s wording, sends nothing on Cancel, and switches the named users on confirm', async () => {
        let release: (r: Response) => void = () => undefined;
        api = server().on('POST', '/sso/fallback', () => new Promise<Response>((resolve) => {
            release = resolve;
        }));
        const sso = await renderForm();
        fill(sso, {users: '@carol dave', reason: 'Okta outage', expires: '12h', delivery: 'dm'});

        fireEvent.click(start(sso));
        let dialog = screen.getByRole('dialog', {name: 'Switch 2 user(s) to email/password?'});
        expect(dialog.textContent).toContain('2 user(s) would be switched to email/password (delivery: dm): @carol, @dave.');
        expect(dialog.textContent).toContain('The fallback window is 12h');
        fireEvent.click(within(dialog).getByRole('button', {name: 'Cancel'}));
        expect(api.count('POST', '/sso/fallback')).toBe(0);

        fireEvent.click(start(sso));
        dialog = screen.getByRole('dialog');
        fireEvent.click(within(dialog).getByRole('button', {name: 'Switch 2 user(s)'}));
        await waitFor(() => expect(api.count('POST', '/sso/fallback')).toBe(1));
        const call = api.last('POST', '/sso/fallback');
        expect(call?.body).toEqual({usernames: ['carol', 'dave'], reason: 'Okta outage', expires: '12h', delivery: 'dm', all: false, service: ''});
        expect(call?.headers['X-CSRF-Token']).toBe('csrf-token-123');
        expect(start(sso).disabled).toBe(true);
        expect(sso.getByRole<HTMLButtonElement>('button', {name: 'Restore @alice'}).disabled).toBe(true);

        release(json(200, {results: [
            {user_id: 'c', username: 'carol', outcome: 'done', detail: 'switched, temporary password sent by DM'},
            {user_id: 'd', username: 'dave', outcome: 'skipped', detail: 'not an SSO user (email)'},
        ], duration: 1_500_000_000}));
        await waitFor(() => expect(sso.getByRole('status').textContent).toBe(
            'Fallback of @carol, @dave: 1 done, 0 already, 1 skipped, 0 failed (2 s). @dave: skipped, not an SSO user (email)',
        ));
        expect(start(sso).disabled).toBe(false);
    });

    it('leaves the delivery to the server by default', async () => {
        api = server().on('POST', '/sso/fallback', {status: 200, body: {results: [], duration: 0}});
        const sso = await renderForm();
        fill(sso, {users: 'carol'});
        fireEvent.click(start(sso));
        const dialog = screen.getByRole('dialog');
        expect(dialog.textContent).toContain('1 user(s) would be switched to email/password (delivery: the server\'s default): @carol.');
        fireEvent.click(within(dialog).getByRole('button', {name: 'Switch 1 user(s)'}));
        await waitFor(() => expect(api.last('POST', '/sso/fallback')?.body).toEqual({usernames: ['carol'], reason: '', expires: '', delivery: '', all: false, service: ''}));
    });

    it.each([
        [{users: ''}, 'Name the users to switch, such as @alice @bob.'],
        [{users: 'Carol Smith <carol@example.com>'}, 'Not a username: <carol@example.com>. Use usernames (@alice), not display names or email addresses.'],
        [{users: 'carol', expires: 'tomorrow'}, 'Expires: "tomorrow" is not a duration: use one such as 90m, 24h or 3d, or leave it empty for the settings\' default window.'],
    ])('refuses %j before asking: %s', async (fields, message) => {
        api = server();
        const sso = await renderForm();
        fill(sso, fields);
        fireEvent.click(start(sso));
        expect(sso.getByRole('alert').textContent).toBe(message);
        expect(screen.queryByRole('dialog')).toBeNull();
        expect(api.count('POST', '/sso/fallback')).toBe(0);
    });

    it('says so when the server runs a long list in the background (more than 50 users)', async () => {
        api = server().on('POST', '/sso/fallback', {status: 202, body: {job: {id: 'job-9', started: '2026-03-02T10:00:00Z', progress: ''}, users: 51}});
        const sso = await renderForm();
        fill(sso, {users: Array.from({length: 51}, (_, i) => `@u${i}`).join(' ')});
        fireEvent.click(start(sso));
        fireEvent.click(within(screen.getByRole('dialog')).getByRole('button', {name: 'Switch 51 user(s)'}));
        await waitFor(() => expect(sso.getByRole('status').textContent).toContain('runs in the background (job job-9, 51 user(s)); the bot posts the result in the ops channel.'));
    });

    it('shows the server\'s error', async () => {
        api = server().on('POST', '/sso/fallback', {status: 400, body: {error: 'user @nobody does not exist'}});
        const sso = await renderForm();
        fill(sso, {users: '@nobody'});
        fireEvent.click(start(sso));
        fireEvent.click(within(screen.getByRole('dialog')).getByRole('button', {name: 'Switch 1 user(s)'}));
        await waitFor(() => expect(sso.getByRole('alert').textContent).toBe('user @nobody does not exist (HTTP 400)'));
    });
});
