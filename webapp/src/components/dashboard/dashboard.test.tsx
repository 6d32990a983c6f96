import {fireEvent, render, screen, waitFor, within} from '@testing-library/react';
import React from 'react';
import {afterEach, beforeEach, describe, expect, it} from 'vitest';

import {DrClient} from '../../api/client';
import type {JobInfo} from '../../api/types';
import {FakeApi, SITE, json} from '../../test/fake_api';
import {AUDIT, FALLBACKS, NEW_ID, NO_RUNBOOK, OLD_ID, backupList, degradedStatus, healthyStatus, manifest} from '../../test/fixtures';

import Dashboard from './dashboard';
import {LagHistory} from './lag_history';

const FORBIDDEN = 'forbidden: the Disaster Recovery API is for system admins only';

let api: FakeApi;

function healthyServer(): FakeApi {
    return new FakeApi().
        on('GET', '/status', {status: 200, body: healthyStatus()}).
        on('GET', '/backups', {status: 200, body: backupList()}).
        on('GET', '/sso/fallbacks', {status: 200, body: {fallbacks: FALLBACKS, running: null}}).
        on('GET', '/audit', {status: 200, body: AUDIT}).
        on('GET', '/version', {status: 200, body: {plugin: '0.1.0', server: '11.4.0', node: 'app-1', problems: []}}).
        on('GET', '/failover', {status: 200, body: NO_RUNBOOK});
}

function renderDashboard(opts: {fast?: number; slow?: number; lag?: LagHistory} = {}): ReturnType<typeof render> {
    api.install();
    return render(
        <Dashboard
            client={new DrClient(() => SITE)}
            lagHistory={opts.lag ?? new LagHistory()}
            pollFastMs={opts.fast ?? 20}
            pollSlowMs={opts.slow ?? 60_000}
        />,
    );
}

const ready = async (): Promise<HTMLElement> => {
    const root = screen.getByTestId('dr-dashboard');
    await waitFor(() => expect(root.getAttribute('data-state')).toBe('ready'));
    return root;
};

const section = (testId: string) => within(screen.getByTestId(testId));

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

beforeEach(() => {
    document.cookie = 'MMCSRF=csrf-token-123';
});

afterEach(() => {
    document.cookie = 'MMCSRF=; expires=Thu, 01 Jan 1970 00:00:00 GMT';
});

describe('Dashboard loading', () => {
    it('says it is loading until the first answers arrive', () => {
        api = new FakeApi();
        const never = (): Promise<Response> => new Promise<Response>(() => undefined);
        for (const path of ['/status', '/backups', '/sso/fallbacks', '/audit', '/version', '/failover']) {
            api.on('GET', path, never);
        }
        renderDashboard();

        expect(screen.getByTestId('dr-dashboard').getAttribute('data-state')).toBe('loading');
        expect(screen.getByText('Loading the disaster recovery status…')).toBeTruthy();
        expect(screen.queryByTestId('dr-backups')).toBeNull();
        expect(api.calls.map((c) => `${c.method} ${c.path}${c.query}`).sort()).toEqual(['GET /audit?limit=10', 'GET /backups', 'GET /failover', 'GET /sso/fallbacks', 'GET /status', 'GET /version']);
    });
});

describe('Dashboard healthy', () => {
    beforeEach(() => {
        api = healthyServer();
    });

    it('shows the problems of the settings and the ops channel, as /dr version does', async () => {
        const publicChannel = 'ops channel: ops channel ~dr-ops in team "ops" is public (created by @bob, not a system admin): ' +
            'the bot does not post DR reports where every team member can read them.';
        api = healthyServer().sequence('GET', '/version', [
            {plugin: '0.1.0', server: '11.4.0', node: 'app-1', problems: [publicChannel, 'DRAWSEndpoint: "htps://REDACTED@aws.example.com": use a URL starting with https://']},
            {plugin: '0.1.0', server: '11.4.0', node: 'app-1', problems: null},
        ]);
        renderDashboard();
        await ready();

        const alert = await waitFor(() => screen.getByTestId('dr-settings-problems'));
        expect(alert.getAttribute('role')).toBe('alert');
        expect(within(alert).getByText('Settings need attention (System Console > Plugins > Disaster Recovery):')).toBeTruthy();
        expect(within(alert).getAllByRole('listitem').map((li) => li.textContent)).toEqual([
            publicChannel,
            'DRAWSEndpoint: "htps://REDACTED@aws.example.com": use a URL starting with https://',
        ]);

        fireEvent.click(screen.getByRole('button', {name: 'Refresh now'}));
        await waitFor(() => expect(screen.queryByTestId('dr-settings-problems')).toBeNull());
    });

    it('shows the verdict, a row per component, the backups, the SSO fallbacks and the audit trail', async () => {
        renderDashboard();
        await ready();
        expect(screen.queryByTestId('dr-settings-problems')).toBeNull();

        const status = section('dr-status');
        expect(status.getByRole('status').textContent).toBe('Healthy');
        expect(status.queryByRole('list', {name: 'Reasons'})).toBeNull();
        expect(status.getByText('Checked 2026-03-02 10:00:00 UTC in 250 ms.')).toBeTruthy();
        const rows = within(status.getByRole('table', {name: 'Components'})).getAllByRole('row').slice(1);
        expect(rows.map((r) => [r.querySelector('th')?.textContent, r.querySelector('td')?.textContent])).toEqual([
            ['Database', 'Healthy'],
            ['S3', 'Healthy'],
            ['OpenSearch', 'Not set up'],
            ['Job scheduler', 'Healthy'],
            ['Identity provider', 'Healthy'],
            ['Backups', 'Healthy'],
        ]);
        expect(rows[0]?.textContent).toContain('PostgreSQL primary 10.0.0.5: primary and 1 standby, replay lag 0 s');
        expect(status.queryByRole('img')).toBeNull(); // no lag metrics, no lag chart

        const backups = section('dr-backups');
        const table = backups.getByRole('table', {name: 'Backup history'});
        const [newer, older] = within(table).getAllByRole('row').slice(1);
        expect(newer?.getAttribute('data-backup-id')).toBe(NEW_ID);
        const cells = (row?: HTMLElement): string[] => Array.from(row?.querySelectorAll('td') ?? []).map((td) => td.textContent ?? '');
        expect(cells(newer).slice(0, 9)).toEqual([
            'Completeencrypted',
            NEW_ID,
            '2026-03-02 02:00 UTC',
            '8.0 MiB', // 4 MiB + 3 KiB at each of two destinations
            '1 min 35 s',
            'database, config, files',
            'local, s3 (off-site)',
            'No',
            'Passed restore drill, 2026-03-02 03:00 UTC, 42 srestored 112 tables, row counts match',
        ]);
        expect(cells(older).slice(0, 9)).toEqual([
            'Completenot encrypted, 1 warning',
            OLD_ID,
            '2026-03-01 02:00 UTC',
            '3.0 MiB',
            '1 min',
            'database, config, files',
            'local',
            'Pinned',
            'Not verified',
        ]);
        expect(older?.querySelector('td div')?.getAttribute('title')).toBe('local: 2 files vanished during the backup');
        expect(within(older!).getByRole('button', {name: `Delete ${OLD_ID}`}).hasAttribute('disabled')).toBe(true);
        expect(within(older!).getByRole('button', {name: `Unpin ${OLD_ID}`})).toBeTruthy();
        expect(backups.getByRole('img', {name: /^Stored size per backup: 2 points, latest 8\.0 MiB at 2026-03-02 02:00 UTC/})).toBeTruthy();
        expect(backups.getByRole('img', {name: /^Duration per backup: 2 points, latest 1 min 35 s/})).toBeTruthy();
        expect(backups.queryByTestId('dr-backup-running')).toBeNull();
        expect(backups.getByRole<HTMLButtonElement>('button', {name: 'Back up now'}).disabled).toBe(false);

        const sso = section('dr-sso');
        const ssoRows = within(sso.getByRole('table', {name: 'Users in SSO fallback'})).getAllByRole('row').slice(1);
        expect(ssoRows.map((r) => Array.from(r.querySelectorAll('td')).slice(0, 7).map((td) => td.textContent))).toEqual([
            ['@alice', 'saml', 'Switched, sign-in delivered', '2026-03-02 08:00 UTC', '@sysadmin', 'Okta outage', '2099-03-03 08:00 UTC'],
            ['@bob', 'ldap', 'Switched (no password delivered yet)', '2026-03-02 08:05 UTC', '@sysadmin', '', 'No expiry'],
        ]);
        expect(sso.getByRole('button', {name: 'Restore all (2)'})).toBeTruthy();

        const audit = section('dr-audit');
        const auditRows = within(audit.getByRole('table', {name: 'Latest audit entries'})).getAllByRole('row').slice(1);
        expect(auditRows[0]?.textContent).toBe('422026-03-02 09:00:01 UTCsysadminsso.fallbacku1succeededOkta outage; delivery=dm');
        expect(audit.getByRole('link', {name: 'JSON lines'}).getAttribute('href')).toBe(`${SITE}/plugins/disaster-recovery/api/v1/audit/export`);
        expect(audit.getByRole('link', {name: 'CSV'}).getAttribute('href')).toBe(`${SITE}/plugins/disaster-recovery/api/v1/audit/export?format=csv`);

        expect(screen.queryByRole('alert')).toBeNull();
    });

    it('calls the API with the session cookie and the headers the web app sends', async () => {
        renderDashboard();
        await ready();

        const get = api.last('GET', '/backups');
        expect(get?.credentials).toBe('include');
        expect(get?.headers['X-Requested-With']).toBe('XMLHttpRequest');
        expect(get?.headers['X-CSRF-Token']).toBeUndefined(); // GETs need none
    });

    it('polls every 30 s (the slow interval) while no job runs', async () => {
        renderDashboard({fast: 20, slow: 500});
        await ready();
        await sleep(250);
        expect(api.count('GET', '/backups')).toBe(1); // the fast rate would have polled about 12 times
        await waitFor(() => expect(api.count('GET', '/backups')).toBe(2), {timeout: 2000});
    });

    it('refreshes on request, with a fresh status run', async () => {
        renderDashboard();
        await ready();
        expect(api.last('GET', '/status')?.query).toBe('');

        fireEvent.click(screen.getByRole('button', {name: 'Refresh now'}));

        await waitFor(() => expect(api.count('GET', '/status')).toBe(2));
        expect(api.last('GET', '/status')?.query).toBe('?fresh=true');
        expect(api.count('GET', '/backups')).toBe(2);
    });

    it('says when nothing has been backed up and nobody is in fallback', async () => {
        api.on('GET', '/backups', {status: 200, body: {backups: [], problems: null, running: null}});
        api.on('GET', '/sso/fallbacks', {status: 200, body: {fallbacks: [], running: null}});
        api.on('GET', '/audit', {status: 200, body: []});
        renderDashboard();
        await ready();

        expect(section('dr-backups').getByText('No complete backups yet. Back up now makes the first one.')).toBeTruthy();
        expect(section('dr-backups').queryByRole('img')).toBeNull();
        expect(section('dr-sso').getByText('Nobody is in SSO fallback.')).toBeTruthy();
        expect(section('dr-audit').getByText('The audit trail is empty.')).toBeTruthy();
    });
});

describe('Dashboard degraded', () => {
    it('shows the reasons with their fix, the failing finding, and charts the lag history from its polls', async () => {
        api = healthyServer().sequence('GET', '/status', [
            degradedStatus(45, new Date(Date.now() - 60_000).toISOString()),
            degradedStatus(90, new Date(Date.now() - 30_000).toISOString()),
        ]);
        renderDashboard({slow: 50});
        await ready();

        // The second poll adds the second point; the connection count is not a lag metric.
        const status = section('dr-status');
        const chart = await status.findByRole('img', {name: /^Replication lag \(seconds\), last 24 hours: 2 points, latest 1 min 30 s/});
        expect(chart.querySelectorAll('circle')).toHaveLength(2);
        expect(chart.querySelector('[data-series="dr_pg_replication_lag_seconds{standby=standby1}"]')).toBeTruthy();

        expect(status.getByRole('status').textContent).toBe('Degraded');
        expect(within(status.getByRole('list', {name: 'Reasons'})).getAllByRole('listitem').map((li) => li.textContent)).toEqual([
            'database: standby replay lag is 90 s Fix: check the standby\'s network and disk',
        ]);
        const dbRow = within(status.getByRole('table', {name: 'Components'})).getAllByRole('row')[1];
        expect(dbRow?.querySelector('td')?.textContent).toBe('Degraded');
        expect(dbRow?.textContent).toContain('Degraded standby replay lag is 90 s Fix: check the standby\'s network and disk');
        expect(status.getByText(/this page records the lag from its own status polls/)).toBeTruthy();
    });

    it('shows a critical verdict from the server\'s cache, with commands as code', async () => {
        const critical = degradedStatus(600);
        critical.verdict = 'critical';
        critical.cached = true;
        critical.reasons.unshift({component: 'backups', probe: 'Plugin backups', state: 'critical', message: 'no backup has succeeded yet', fix: 'run `/dr backup now` and check the backup job\'s log'});
        api = healthyServer().on('GET', '/status', {status: 200, body: critical});
        renderDashboard();
        await ready();

        const status = section('dr-status');
        expect(status.getByRole('status').textContent).toBe('Critical');
        const reason = within(status.getByRole('list', {name: 'Reasons'})).getAllByRole('listitem')[0];
        expect(reason?.textContent).toBe('backups: no backup has succeeded yet Fix: run /dr backup now and check the backup job\'s log');
        expect(reason?.querySelector('code')?.textContent).toBe('/dr backup now');
        expect(status.getByText('Checked 2026-03-02 10:00:00 UTC in 250 ms (the server\'s latest run, from its cache).')).toBeTruthy();
    });
});

describe('Dashboard errors', () => {
    it('shows the server\'s error message for each call that fails, and the sections that loaded', async () => {
        api = healthyServer().
            on('GET', '/backups', {status: 500, body: {error: 'list the backups at local: open /var/backups/mm: permission denied'}}).
            on('GET', '/audit', () => Promise.reject(new TypeError('Failed to fetch')));
        renderDashboard();
        await ready();

        expect(section('dr-backups').getByRole('alert').textContent).toBe(
            'Could not load the backups: list the backups at local: open /var/backups/mm: permission denied (HTTP 500)',
        );
        expect(section('dr-audit').getByRole('alert').textContent).toBe('Could not load the audit trail: GET /audit?limit=10: cannot reach the server: Failed to fetch');
        expect(section('dr-status').getByRole('status').textContent).toBe('Healthy');
        expect(section('dr-sso').getByText('@alice')).toBeTruthy();
    });

    it('says clearly when the server has no status route yet', async () => {
        api = healthyServer();
        api.on('GET', '/status', () => new Response('404 page not found\n', {status: 404}));
        renderDashboard();
        await ready();

        expect(section('dr-status').getByRole('alert').textContent).toBe(
            'Could not load the status: This plugin\'s server does not offer GET /api/v1/status (HTTP 404: 404 page not found). ' +
            'It comes with a newer version of the plugin: update the plugin on the server.',
        );
        expect(section('dr-backups').getByRole('table', {name: 'Backup history'})).toBeTruthy();
    });

    it('keeps the last answer and says the refresh failed', async () => {
        let fail = false;
        api = healthyServer().on('GET', '/backups', () => (fail ? json(503, {error: 'the plugin is restarting'}) : json(200, backupList())));
        renderDashboard({slow: 30});
        await ready();
        fail = true;

        const alert = await section('dr-backups').findByRole('alert');
        expect(alert.textContent).toBe('Could not refresh the backups (showing the last answer): the plugin is restarting (HTTP 503)');
        expect(section('dr-backups').getByRole('table', {name: 'Backup history'})).toBeTruthy();
    });

    it('lists destinations that could not be listed', async () => {
        api = healthyServer().on('GET', '/backups', {status: 200, body: backupList({problems: ['s3: AccessDenied: Access Denied']})});
        renderDashboard();
        await ready();

        expect(section('dr-backups').getByRole('alert').textContent).toBe('Some destinations could not be listed:s3: AccessDenied: Access Denied');
    });
});

describe('Dashboard job running', () => {
    const job: JobInfo = {id: 'job1234567', started: new Date().toISOString(), progress: ''};

    it('starts a backup, follows its progress every 2 s (the fast interval), then shows the new backup', async () => {
        const finished = backupList();
        const third = '20260303T020000Z-cc33';
        finished.backups.unshift({id: third, pinned: false, manifests: {local: manifest(third, 'local', '2026-03-03T02:00:00Z', 30, [5 * 1024 * 1024])}, verification: null});
        let phase = 0;
        const states = [
            backupList(),
            backupList({running: {...job, progress: 'dumping the database (12 MiB)'}}),
            backupList({running: {...job, progress: 'copying files (3 of 5)'}}),
            finished,
        ];
        api = healthyServer().
            on('GET', '/backups', () => json(200, states[Math.min(phase, states.length - 1)])).
            on('POST', '/backups', () => {
                phase = 1;
                return json(202, job);
            });
        renderDashboard({fast: 40, slow: 60_000});
        await ready();

        fireEvent.click(section('dr-backups').getByRole('button', {name: 'Back up now'}));

        const panel = await section('dr-backups').findByTestId('dr-backup-running');
        expect(panel.getAttribute('data-job-id')).toBe('job1234567');
        await waitFor(() => expect(within(panel).getByTestId('dr-backup-running-progress').textContent).toBe('dumping the database (12 MiB)'));
        expect(section('dr-backups').getByRole<HTMLButtonElement>('button', {name: 'Back up now'}).disabled).toBe(true);

        const post = api.last('POST', '/backups');
        expect(post?.body).toEqual({only: [], destination: ''});
        expect(post?.headers['X-CSRF-Token']).toBe('csrf-token-123');
        expect(post?.headers['X-Requested-With']).toBe('XMLHttpRequest');
        expect(post?.credentials).toBe('include');

        phase = 2;
        await waitFor(() => expect(section('dr-backups').getByTestId('dr-backup-running-progress').textContent).toBe('copying files (3 of 5)'));
        phase = 3;
        await waitFor(() => expect(section('dr-backups').queryByTestId('dr-backup-running')).toBeNull());
        const rows = within(section('dr-backups').getByRole('table', {name: 'Backup history'})).getAllByRole('row').slice(1);
        expect(rows.map((r) => r.getAttribute('data-backup-id'))).toEqual([third, NEW_ID, OLD_ID]);

        // Once the job has ended: one refresh with a fresh status run (the backup changes the
        // verdict), then back to the slow interval.
        await waitFor(() => expect(api.calls.filter((c) => c.path === '/status' && c.query === '?fresh=true')).toHaveLength(1));
        const polls = api.count('GET', '/backups');
        await sleep(200);
        expect(api.count('GET', '/backups')).toBe(polls);
        expect(api.calls.filter((c) => c.path === '/status' && c.query === '?fresh=true')).toHaveLength(1);
    });

    it('asks for a fresh status after a job it started, even one that ended before the next poll', async () => {
        api = healthyServer().on('POST', '/backups', {status: 202, body: job}); // GET /backups never shows it running
        renderDashboard({fast: 30, slow: 60_000});
        await ready();

        fireEvent.click(screen.getByRole('button', {name: 'Back up now'}));

        await waitFor(() => expect(api.calls.filter((c) => c.path === '/status' && c.query === '?fresh=true')).toHaveLength(1));
        await sleep(200);
        expect(api.count('GET', '/backups')).toBe(3); // the first load, after starting, after the job ended
    });

    it('still asks for a fresh status after a job ended when an action refreshes first', async () => {
        let running = true;
        api = healthyServer().
            on('GET', '/backups', () => json(200, backupList({running: running ? {...job, progress: 'copying files'} : null}))).
            on('POST', `/backups/${NEW_ID}/pin`, {status: 200, body: {id: NEW_ID, pinned: true}});
        renderDashboard({fast: 300, slow: 60_000});
        await ready();
        running = false;

        // The poll that sees the job gone schedules the fresh refresh; the pin's refresh comes first.
        await waitFor(() => expect(screen.queryByTestId('dr-backup-running')).toBeNull(), {timeout: 2000});
        fireEvent.click(screen.getByRole('button', {name: `Pin ${NEW_ID}`}));

        await waitFor(() => expect(api.count('POST', `/backups/${NEW_ID}/pin`)).toBe(1));
        await waitFor(() => expect(api.calls.filter((c) => c.path === '/status' && c.query === '?fresh=true')).toHaveLength(1));
        await sleep(400);
        expect(api.calls.filter((c) => c.path === '/status' && c.query === '?fresh=true')).toHaveLength(1);
    });

    it('shows the job the server started at once, as "starting…", before the next poll answers', async () => {
        let started = false;
        api = healthyServer().
            on('GET', '/backups', () => (started ? new Promise<Response>(() => undefined) : json(200, backupList()))).
            on('POST', '/backups', () => {
                started = true;
                return json(202, job);
            });
        renderDashboard({fast: 60_000, slow: 60_000});
        await ready();

        fireEvent.click(screen.getByRole('button', {name: 'Back up now'}));

        const panel = await section('dr-backups').findByTestId('dr-backup-running');
        expect(panel.getAttribute('data-job-id')).toBe(job.id);
        expect(within(panel).getByTestId('dr-backup-running-progress').textContent).toBe('starting…');
        expect(panel.textContent).toMatch(/^Backup running \(job job1234567, started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, /);
        expect(api.count('GET', '/backups')).toBe(2); // the refresh right after starting is still pending
    });

    it('cancels the running backup', async () => {
        api = healthyServer().
            on('GET', '/backups', {status: 200, body: backupList({running: {...job, progress: 'dumping the database'}})}).
            on('POST', '/backups/cancel', {status: 200, body: {cancelled: job}});
        renderDashboard({fast: 60_000});
        await ready();

        fireEvent.click(within(section('dr-backups').getByTestId('dr-backup-running')).getByRole('button', {name: 'Cancel the backup'}));

        expect((await section('dr-backups').findByRole('status')).textContent).toBe('Cancelling backup job job1234567: nothing of it is kept; the bot confirms when it has stopped.');
        expect(api.last('POST', '/backups/cancel')?.headers['X-CSRF-Token']).toBe('csrf-token-123');
    });

    it('shows why a backup could not start', async () => {
        api = healthyServer().on('POST', '/backups', {status: 409, body: {error: 'a backup job (abc) started 5s ago is still running: wait for it, or cancel it'}});
        renderDashboard();
        await ready();

        fireEvent.click(screen.getByRole('button', {name: 'Back up now'}));

        expect((await section('dr-backups').findByRole('alert')).textContent).toBe('a backup job (abc) started 5s ago is still running: wait for it, or cancel it (HTTP 409)');
    });

    it('starts a verification and shows it running', async () => {
        const verifyJob: JobInfo = {id: 'verify0001', started: new Date().toISOString(), progress: 'reading database.dump.zst'};
        api = healthyServer().
            sequence('GET', '/backups', [backupList(), backupList({verifying: verifyJob})]).
            on('POST', `/backups/${NEW_ID}/verify`, {status: 202, body: verifyJob});
        renderDashboard({fast: 60_000});
        await ready();

        fireEvent.click(screen.getByRole('button', {name: `Verify ${NEW_ID}`}));

        const panel = await section('dr-backups').findByTestId('dr-verify-running');
        expect(within(panel).getByTestId('dr-verify-running-progress').textContent).toBe('reading database.dump.zst');
        expect(api.last('POST', `/backups/${NEW_ID}/verify`)?.body).toEqual({drill: false});
        expect(section('dr-backups').getByRole('status').textContent).toBe(`Verification of backup ${NEW_ID} started (job verify0001); the result appears in the Verification column.`);
        await waitFor(() => expect(screen.getByRole<HTMLButtonElement>('button', {name: `Verify ${OLD_ID}`}).disabled).toBe(true));
    });

    it('says clearly when the server cannot verify yet', async () => {
        api = healthyServer();
        renderDashboard();
        await ready();

        fireEvent.click(screen.getByRole('button', {name: `Verify ${NEW_ID}`}));

        expect((await section('dr-backups').findByRole('alert')).textContent).toBe(
            `This plugin's server does not offer POST /api/v1/backups/${NEW_ID}/verify (HTTP 404: 404 page not found). It comes with a newer version of the plugin: update the plugin on the server.`,
        );
    });

    it('pins and unpins', async () => {
        api = healthyServer().
            on('POST', `/backups/${NEW_ID}/pin`, {status: 200, body: {id: NEW_ID, pinned: true}}).
            on('DELETE', `/backups/${OLD_ID}/pin`, {status: 200, body: {id: OLD_ID, pinned: false}});
        renderDashboard();
        await ready();

        fireEvent.click(screen.getByRole('button', {name: `Pin ${NEW_ID}`}));
        await waitFor(() => expect(section('dr-backups').getByRole('status').textContent).toBe(`Backup ${NEW_ID} is pinned: retention keeps it until you unpin it.`));
        await waitFor(() => expect(screen.getByRole<HTMLButtonElement>('button', {name: `Unpin ${OLD_ID}`}).disabled).toBe(false));
        fireEvent.click(screen.getByRole('button', {name: `Unpin ${OLD_ID}`}));
        await waitFor(() => expect(section('dr-backups').getByRole('status').textContent).toBe(`Backup ${OLD_ID} is unpinned: retention decides again.`));
        expect(api.count('POST', `/backups/${NEW_ID}/pin`)).toBe(1);
        expect(api.count('DELETE', `/backups/${OLD_ID}/pin`)).toBe(1);
    });
});

describe('Dashboard non-admin', () => {
    it('renders the server\'s refusal instead of the dashboard, and stops polling', async () => {
        api = new FakeApi();
        for (const path of ['/status', '/backups', '/sso/fallbacks', '/audit', '/version', '/failover']) {
            api.on('GET', path, {status: 403, body: {error: FORBIDDEN}});
        }
        renderDashboard({fast: 10, slow: 10});

        const root = screen.getByTestId('dr-dashboard');
        await waitFor(() => expect(root.getAttribute('data-state')).toBe('refused'));
        const alert = screen.getByRole('alert');
        expect(alert.textContent).toBe(`The Disaster Recovery dashboard is for system admins only.The server refused this session: ${FORBIDDEN} (HTTP 403)`);
        expect(screen.queryByTestId('dr-backups')).toBeNull();
        expect(screen.queryByRole('button')).toBeNull();

        await sleep(100);
        expect(api.calls).toHaveLength(6); // every refusal lands in the audit trail: no more polls
    });

    it('says so when the session is gone', async () => {
        api = new FakeApi();
        const msg = 'not logged in: the Disaster Recovery API needs a Mattermost session or a personal access token of a system admin';
        for (const path of ['/status', '/backups', '/sso/fallbacks', '/audit', '/version', '/failover']) {
            api.on('GET', path, {status: 401, body: {error: msg}});
        }
        renderDashboard();

        expect((await screen.findByRole('alert')).textContent).toBe(`You are not logged in to Mattermost.The server refused this session: ${msg} (HTTP 401)`);
    });
});

describe('Dashboard confirmation dialogs', () => {
    beforeEach(() => {
        api = healthyServer();
    });

    it('deletes a backup only after confirmation', async () => {
        api.on('DELETE', `/backups/${NEW_ID}`, {status: 200, body: {deleted: NEW_ID}});
        renderDashboard();
        await ready();

        fireEvent.click(screen.getByRole('button', {name: `Delete ${NEW_ID}`}));
        let dialog = screen.getByRole('dialog', {name: `Delete backup ${NEW_ID}?`});
        expect(dialog.textContent).toContain(`This deletes backup ${NEW_ID} at every destination (local, s3), with the file contents only it refers to. It cannot be undone.`);
        expect(document.activeElement?.textContent).toBe('Cancel');
        fireEvent.click(within(dialog).getByRole('button', {name: 'Cancel'}));
        expect(screen.queryByRole('dialog')).toBeNull();

        fireEvent.click(screen.getByRole('button', {name: `Delete ${NEW_ID}`}));
        fireEvent.keyDown(document, {key: 'Escape'});
        expect(screen.queryByRole('dialog')).toBeNull();
        expect(api.count('DELETE', `/backups/${NEW_ID}`)).toBe(0);

        fireEvent.click(screen.getByRole('button', {name: `Delete ${NEW_ID}`}));
        dialog = screen.getByRole('dialog');
        fireEvent.click(within(dialog).getByRole('button', {name: 'Delete the backup'}));

        await waitFor(() => expect(section('dr-backups').getByRole('status').textContent).toBe(`Backup ${NEW_ID} deleted.`));
        const call = api.last('DELETE', `/backups/${NEW_ID}`);
        expect(call?.query).toBe('?confirm=true');
        expect(call?.headers['X-CSRF-Token']).toBe('csrf-token-123');
    });

    it('shows the server\'s refusal to delete', async () => {
        api.on('DELETE', `/backups/${NEW_ID}`, {status: 400, body: {error: `backup ${NEW_ID} is pinned: \`/dr backup unpin ${NEW_ID}\` first`}});
        renderDashboard();
        await ready();

        fireEvent.click(screen.getByRole('button', {name: `Delete ${NEW_ID}`}));
        fireEvent.click(screen.getByRole('button', {name: 'Delete the backup'}));

        expect((await section('dr-backups').findByRole('alert')).textContent).toBe(`backup ${NEW_ID} is pinned: \`/dr backup unpin ${NEW_ID}\` first (HTTP 400)`);
    });

    it('asks before a restore drill', async () => {
        api.on('POST', `/backups/${OLD_ID}/verify`, {status: 202, body: {id: 'drill00001', started: new Date().toISOString(), progress: ''}});
        renderDashboard();
        await ready();

        fireEvent.click(screen.getByRole('button', {name: `Restore drill of ${OLD_ID}`}));
        fireEvent.click(within(screen.getByRole('dialog', {name: `Run a restore drill of backup ${OLD_ID}?`})).getByRole('button', {name: 'Start the drill'}));

        await waitFor(() => expect(api.last('POST', `/backups/${OLD_ID}/verify`)?.body).toEqual({drill: true}));
    });

    it('restores one user after confirmation and shows the report', async () => {
        api.on('POST', '/sso/restore', {status: 200, body: {results: [{user_id: 'u1', username: 'alice', outcome: 'done', detail: 'back on saml'}], duration: 120_000_000}});
        renderDashboard();
        await ready();

        fireEvent.click(screen.getByRole('button', {name: 'Restore @alice'}));
        const dialog = screen.getByRole('dialog', {name: 'Restore @alice to SSO?'});
        expect(dialog.textContent).toContain('@alice goes back to signing in with saml.');
        fireEvent.click(within(dialog).getByRole('button', {name: 'Restore @alice'}));

        await waitFor(() => expect(section('dr-sso').getByRole('status').textContent).toBe('Restore of @alice: 1 done, 0 already, 0 skipped, 0 failed (120 ms).'));
        expect(api.last('POST', '/sso/restore')?.body).toEqual({usernames: ['alice'], service: '', all: false});
    });

    it('restores everyone after confirmation, and shows failures as an error', async () => {
        api.on('POST', '/sso/restore', {status: 200, body: {
            results: [
                {user_id: 'u1', username: 'alice', outcome: 'done', detail: 'back on saml'},
                {user_id: 'u2', username: 'bob', outcome: 'failed', detail: 'AuthData already used by another user'},
            ],
            duration: 2_500_000_000,
        }});
        renderDashboard();
        await ready();

        fireEvent.click(screen.getByRole('button', {name: 'Restore all (2)'}));
        const dialog = screen.getByRole('dialog', {name: 'Restore all 2 users to SSO?'});
        fireEvent.click(within(dialog).getByRole('button', {name: 'Restore all 2'}));

        expect((await section('dr-sso').findByRole('alert')).textContent).toBe(
            'Restore of all users: 1 done, 0 already, 0 skipped, 1 failed (3 s). @bob: failed, AuthData already used by another user',
        );
        expect(api.last('POST', '/sso/restore')?.body).toEqual({usernames: [], service: '', all: true, confirm: true});
    });

    it('says so when the server runs Restore all in the background', async () => {
        api.on('POST', '/sso/restore', {status: 202, body: {job: {id: 'job-7', started: '2026-03-02T10:00:00Z', progress: ''}, users: -1}});
        renderDashboard();
        await ready();

        fireEvent.click(screen.getByRole('button', {name: 'Restore all (2)'}));
        fireEvent.click(within(screen.getByRole('dialog')).getByRole('button', {name: 'Restore all 2'}));

        expect((await section('dr-sso').findByRole('status')).textContent).toBe(
            'Restore of all users runs in the background (job job-7); the bot posts the result in the ops channel. /dr sso cancel stops it.',
        );
    });

    it('shows the refusal when the session lost its rights during an action', async () => {
        api.on('POST', '/sso/restore', {status: 403, body: {error: FORBIDDEN}});
        renderDashboard();
        await ready();

        fireEvent.click(screen.getByRole('button', {name: 'Restore @bob'}));
        fireEvent.click(within(screen.getByRole('dialog')).getByRole('button', {name: 'Restore @bob'}));

        await waitFor(() => expect(screen.getByTestId('dr-dashboard').getAttribute('data-state')).toBe('refused'));
        expect(screen.getByTestId('dr-refusal').textContent).toContain(`${FORBIDDEN} (HTTP 403)`);
    });
});

describe('Dashboard backups not made by this server', () => {
    const PLANTED = '20300101T000000Z-beef';

    it('shows the signing key and lists planted backups apart, deletable after confirmation', async () => {
        const planted = {id: PLANTED, pinned: false, manifests: {local: manifest(PLANTED, 'local', '2030-01-01T00:00:00Z', 95, [1024])},
            verification: null, not_made_here: {local: 'dated in the future (it says it started 2030-01-01T00:00:00Z, 26000h0m0s from now)'}};
        api = healthyServer().
            on('GET', '/backups', {status: 200, body: backupList({untrusted: [planted],
                signing_key: {public_key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBdr mattermost-disaster-recovery', fingerprint: 'SHA256:abcDEF123'}})}).
            on('DELETE', `/backups/${PLANTED}`, {status: 200, body: {deleted: PLANTED}});
        renderDashboard();
        await ready();

        expect(screen.getByTestId('dr-signing-key').textContent).toContain('SHA256:abcDEF123');
        const apart = within(screen.getByTestId('dr-untrusted'));
        expect(screen.getByTestId('dr-untrusted').textContent).toContain('1 backup not made by this server');
        expect(apart.getByText(PLANTED)).toBeTruthy();
        expect(screen.getByTestId('dr-untrusted').textContent).toContain('local: dated in the future');
        const history = within(screen.getByRole('table', {name: 'Backup history'}));
        expect(history.queryByText(PLANTED)).toBeNull();
        expect(history.getByText(NEW_ID)).toBeTruthy();
        expect(apart.queryByRole('button', {name: `Restore drill of ${PLANTED}`})).toBeNull();

        fireEvent.click(apart.getByRole('button', {name: `Delete ${PLANTED}`}));
        const dialog = screen.getByRole('dialog', {name: `Delete backup ${PLANTED}?`});
        expect(dialog.textContent).toContain('at every destination (local)');
        fireEvent.click(within(dialog).getByRole('button', {name: 'Delete the backup'}));
        await waitFor(() => expect(api.count('DELETE', `/backups/${PLANTED}`)).toBe(1));
        expect(api.last('DELETE', `/backups/${PLANTED}`)?.query).toBe('?confirm=true');
    });
});
