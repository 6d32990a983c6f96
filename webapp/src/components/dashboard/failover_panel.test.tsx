import {fireEvent, screen, waitFor, within} from '@testing-library/react';
import {afterEach, beforeEach, describe, expect, it} from 'vitest';

import type {FailoverStatus} from '../../api/types';
import {dashboardServer, renderDashboard} from '../../test/dashboard_page';
import {type FakeApi, json} from '../../test/fake_api';
import {NO_RUNBOOK, waitingRunbook} from '../../test/fixtures';

let api: FakeApi;

const scope = () => within(screen.getByTestId('dr-failover'));
type Scope = ReturnType<typeof scope>;

function server(failover: FailoverStatus): FakeApi {
    return dashboardServer(failover);
}

async function renderPanel(): Promise<Scope> {
    await renderDashboard(api);
    return scope();
}

const button = (panel: Scope, name: string): HTMLButtonElement => panel.getByRole<HTMLButtonElement>('button', {name});

/** A response the test releases when it wants, to see the page while the call runs. */
function held(): {answer: () => Promise<Response>; release: (r: Response) => void} {
    let release: (r: Response) => void = () => undefined;
    const promise = new Promise<Response>((resolve) => {
        release = resolve;
    });
    return {answer: () => promise, release};
}

beforeEach(() => {
    document.cookie = 'MMCSRF=csrf-token-123';
});

afterEach(() => {
    document.cookie = 'MMCSRF=; expires=Thu, 01 Jan 1970 00:00:00 GMT';
});

describe('Failover panel', () => {
    it('says no failover was ever started, as the chat does, and offers no action', async () => {
        api = server(NO_RUNBOOK);
        const panel = await renderPanel();
        expect(panel.getByText((_: string, el: Element | null) => el?.tagName === 'P' && el.textContent === 'No failover was ever started. /dr failover plan --to <region> shows what one would do.')).toBeTruthy();
        expect(panel.queryByRole('button')).toBeNull();
    });

    it('shows the steps with state, duration and detail, and what to do next', async () => {
        api = server(waitingRunbook());
        const panel = await renderPanel();

        expect(panel.getByTestId('dr-failover-summary').textContent).toBe(
            'Failover us-east-1 → us-west-2 (switchover): Waits for you' +
            'Runbook 20260302-100000-abc123, started 2026-03-02 10:00:00 UTC by @alice, running for ' +
            panel.getByTestId('dr-failover-summary').textContent?.split('running for ')[1],
        );
        const rows = within(panel.getByRole('table', {name: 'Runbook steps'})).getAllByRole('row').slice(1);
        expect(rows.map((r) => [...r.children].map((c) => c.textContent))).toEqual([
            ['1', 'Announce the failover', 'Done', '@alice', '120 ms', 'posted in ~dr-ops'],
            ['2', 'Database: make the new region the writer', 'Done', '', '1 min 4 s', 'mm-west is the writer'],
            ['3', 'Job scheduler in the new region', 'Waits for you', '', '', 'app-1 (us-east-1) runs the job scheduler'],
            ['4', 'DNS: point chat.example.com at the new region', 'Pending', '', '', ''],
        ]);
        expect(rows[2]?.getAttribute('aria-current')).toBe('step');
        expect(rows[1]?.querySelector('td:last-child')?.innerHTML).toBe('mm-west is the writer');
        expect(panel.getByTestId('dr-failover-next').textContent).toBe(
            'What to do next: Job scheduler in the new region waits for you: set RunScheduler=true on the us-west-2 nodes and false on the us-east-1 nodes. ' +
            'Then Confirm (you did it) or Resume (the runbook checks it itself).',
        );
        expect(button(panel, 'Confirm…').disabled).toBe(false);
        expect(button(panel, 'Resume…').disabled).toBe(false);
        expect(button(panel, 'Abort…').disabled).toBe(false);
    });

    it('confirms only through the dialog, disables the buttons while the call runs, and shows the new state', async () => {
        const confirmed = waitingRunbook({state: 'running'}, true);
        const call = held();
        api = server(waitingRunbook()).on('POST', '/failover/confirm', call.answer);
        const panel = await renderPanel();

        fireEvent.click(button(panel, 'Confirm…'));
        let dialog = screen.getByRole('dialog', {name: 'Confirm "Job scheduler in the new region"?'});
        expect(dialog.textContent).toContain('Confirm only once it is done: set RunScheduler=true on the us-west-2 nodes and false on the us-east-1 nodes.');
        fireEvent.click(within(dialog).getByRole('button', {name: 'Cancel'}));
        expect(screen.queryByRole('dialog')).toBeNull();
        expect(api.count('POST', '/failover/confirm')).toBe(0);

        fireEvent.click(button(panel, 'Confirm…'));
        dialog = screen.getByRole('dialog');
        fireEvent.click(within(dialog).getByRole('button', {name: 'Confirm and go on'}));
        await waitFor(() => expect(api.count('POST', '/failover/confirm')).toBe(1));
        expect(api.last('POST', '/failover/confirm')?.headers['X-CSRF-Token']).toBe('csrf-token-123');
        expect(api.last('POST', '/failover/confirm')?.body).toEqual({run: '20260302-100000-abc123', step: 'scheduler'});
        for (const name of ['Confirm…', 'Resume…', 'Abort…']) {
            expect(button(panel, name).disabled).toBe(true);
        }

        api.on('GET', '/failover', {status: 200, body: confirmed});
        call.release(json(202, {run: confirmed.run}));
        await waitFor(() => expect(panel.getByRole('status').textContent).toBe('Confirmed "Job scheduler in the new region"; runbook 20260302-100000-abc123 goes on.'));
        await waitFor(() => expect(panel.getByTestId('dr-failover-summary').textContent).toContain('Running'));
        expect(button(panel, 'Confirm…').disabled).toBe(true); // nothing waits any more
        expect(button(panel, 'Abort…').disabled).toBe(false);
    });

    it('shows the server\'s refusal of an action', async () => {
        api = server(waitingRunbook()).on('POST', '/failover/resume', {status: 409, body: {error: 'the runbook is running on node app-2: wait for it'}});
        const panel = await renderPanel();
        fireEvent.click(button(panel, 'Resume…'));
        const dialog = screen.getByRole('dialog', {name: 'Resume runbook 20260302-100000-abc123?'});
        expect(dialog.textContent).toContain('goes on at "Job scheduler in the new region"');
        fireEvent.click(within(dialog).getByRole('button', {name: 'Resume'}));
        await waitFor(() => expect(panel.getByRole('alert').textContent).toBe('the runbook is running on node app-2: wait for it (HTTP 409)'));
        expect(button(panel, 'Resume…').disabled).toBe(false);
    });

    it('aborts through a dangerous dialog and shows what the server says was done', async () => {
        const aborted = waitingRunbook({state: 'aborted', aborted_by: 'alice', finished_at: '2026-03-02T10:05:00Z'});
        api = server(waitingRunbook()).on('POST', '/failover/abort', () => {
            api.on('GET', '/failover', {status: 200, body: aborted});
            return json(200, {run: aborted.run, message: 'Runbook aborted. Done: Database. To undo: /dr failback.'});
        });
        const panel = await renderPanel();
        fireEvent.click(button(panel, 'Abort…'));
        const dialog = screen.getByRole('dialog', {name: 'Abort runbook 20260302-100000-abc123?'});
        const go = within(dialog).getByRole('button', {name: 'Abort the runbook'});
        expect(go.className).toContain('btn-danger');
        fireEvent.click(go);
        await waitFor(() => expect(panel.getByRole('status').textContent).toBe('Runbook aborted. Done: Database. To undo: /dr failback.'));
        await waitFor(() => expect(panel.queryByRole('button')).toBeNull()); // an aborted runbook is over
        expect(panel.getByTestId('dr-failover-summary').textContent).toContain('Aborted');
        expect(panel.getByTestId('dr-failover-summary').textContent).toContain('took 5 min');
        expect(panel.queryByTestId('dr-failover-next')).toBeNull();
    });

    it('reads a runbook no node runs as interrupted: Resume, not Confirm', async () => {
        const base = waitingRunbook({state: 'running'}).run;
        if (!base) {
            throw new Error('fixture');
        }

        // The plugin stopped during the step: the journal still says running.
        const steps = base.steps.map((s) => (s.name === 'scheduler' ? {...s, state: 'running' as const} : s));
        api = server({run: {...base, steps}, running: false, job: null});
        const panel = await renderPanel();
        expect(panel.getByTestId('dr-failover-summary').textContent).toContain('Interrupted');
        expect(panel.getByTestId('dr-failover-next').textContent).toContain('No node is running it');
        expect(button(panel, 'Confirm…').disabled).toBe(true);
        expect(button(panel, 'Resume…').disabled).toBe(false);
    });

    it('shows the server\'s Markdown marks in a detail as code and bold', async () => {
        const base = waitingRunbook().run;
        if (!base) {
            throw new Error('fixture');
        }
        const steps = base.steps.map((s) => (s.name === 'database' ? {...s, detail: 'verdict: **critical**: run `/dr status`'} : s));
        api = server({run: {...base, steps}, running: false, job: null});
        const panel = await renderPanel();
        const cell = panel.getByRole('row', {name: /Database: make the new region the writer/}).querySelector('td:last-child');
        expect(cell?.innerHTML).toBe('verdict: <strong>critical</strong>: run <code>/dr status</code>');
    });

    it('says what failed and what to do, from the step', async () => {
        const base = waitingRunbook({state: 'failed'}).run;
        if (!base) {
            throw new Error('fixture');
        }
        const steps = base.steps.map((s) => (s.name === 'scheduler' ? {...s, state: 'failed' as const, error: 'route53: AccessDenied', next: 'grant route53:ChangeResourceRecordSets, then Resume.'} : s));
        api = server({run: {...base, steps}, running: false, job: null});
        const panel = await renderPanel();
        const next = panel.getByTestId('dr-failover-next');
        expect(next.className).toBe('DrAlert');
        expect(next.textContent).toBe('What to do next: Job scheduler in the new region failed: route53: AccessDenied What to do: grant route53:ChangeResourceRecordSets, then Resume.');
        expect(button(panel, 'Confirm…').disabled).toBe(true);
    });

    it('says clearly when the server has no failover route', async () => {
        api = server(NO_RUNBOOK);
        api.on('GET', '/failover', () => new Response('404 page not found\n', {status: 404}));
        const panel = await renderPanel();
        expect(panel.getByRole('alert').textContent).toContain('This plugin\'s server does not offer GET /api/v1/failover');
    });
});
