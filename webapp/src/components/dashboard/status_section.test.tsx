import {render, screen, within} from '@testing-library/react';
import React from 'react';
import {describe, expect, it} from 'vitest';

import {healthyStatus, result} from '../../test/fixtures';

import StatusSection from './status_section';

function renderStatus(results: ReturnType<typeof healthyStatus>['results']) {
    const report = {...healthyStatus(), results};
    render(
        <StatusSection
            status={{data: report}}
            lag={[]}
            now={Date.parse('2026-03-02T10:00:00Z')}
            pollSeconds={30}
        />,
    );
    return within(screen.getByRole('table', {name: 'Components'})).getAllByRole('row').slice(1);
}

describe('StatusSection, not set up versus not answering', () => {
    it('shows a component the admin has not set up as "Not set up" with what it means, apart from the verdict', () => {
        const rows = renderStatus([
            result('database', 'not_configured', 'not set up: no database replica: losing the database server loses everything since the last backup.'),
            result('s3', 'unknown', 'could not reach the bucket'),
            result('scheduler', 'healthy', 'one node runs the job scheduler'),
            result('backups', 'healthy', 'newest backup 8 h old'),
        ]);
        const cells = rows.map((r) => [r.querySelector('th')?.textContent, r.querySelector('td')?.textContent]);
        expect(cells).toEqual([
            ['Database', 'Not set up'],
            ['S3', 'Unknown'],
            ['OpenSearch', 'Not reported'],
            ['Job scheduler', 'Healthy'],
            ['Identity provider', 'Not reported'],
            ['Backups', 'Healthy'],
        ]);
        expect(rows[0]?.textContent).toContain('database check: no database replica: losing the database server loses everything since the last backup.');
        expect(rows[0]?.textContent).not.toContain('not set up:');
        expect(rows[0]?.querySelector('.DrState--not_set_up')).toBeTruthy();
        expect(rows[1]?.querySelector('.DrState--not_set_up')).toBeNull();
        expect(screen.getByRole('status').textContent).toBe('Healthy');
        expect(screen.getByText('Not set up (not counted in the verdict): Database')).toBeTruthy();
    });
});
