// The dashboard on a fake server that answers every GET route it polls, for the tests of one
// of its sections: add the section's own routes with .on(...), then renderDashboard.
import {render, screen, waitFor} from '@testing-library/react';
import React from 'react';
import {expect} from 'vitest';

import {DrClient} from '../api/client';
import type {FailoverStatus} from '../api/types';
import Dashboard from '../components/dashboard/dashboard';
import {LagHistory} from '../components/dashboard/lag_history';

import {FakeApi, SITE} from './fake_api';
import {AUDIT, FALLBACKS, NO_RUNBOOK, backupList, healthyStatus} from './fixtures';

export function dashboardServer(failover: FailoverStatus = NO_RUNBOOK): FakeApi {
    return new FakeApi().
        on('GET', '/status', {status: 200, body: healthyStatus()}).
        on('GET', '/backups', {status: 200, body: backupList()}).
        on('GET', '/sso/fallbacks', {status: 200, body: {fallbacks: FALLBACKS, running: null}}).
        on('GET', '/audit', {status: 200, body: AUDIT}).
        on('GET', '/version', {status: 200, body: {plugin: '0.1.0', server: '11.4.0', node: 'app-1', problems: []}}).
        on('GET', '/failover', {status: 200, body: failover});
}

// renderDashboard installs api and renders the dashboard until its first load is done.
export async function renderDashboard(api: FakeApi): Promise<void> {
    api.install();
    render(
        <Dashboard
            client={new DrClient(() => SITE)}
            lagHistory={new LagHistory()}
            pollFastMs={20}
            pollSlowMs={60_000}
        />,
    );
    await waitFor(() => expect(screen.getByTestId('dr-dashboard').getAttribute('data-state')).toBe('ready'));
}
