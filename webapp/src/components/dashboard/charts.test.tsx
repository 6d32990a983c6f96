import {render, screen} from '@testing-library/react';
import React from 'react';
import {describe, expect, it} from 'vitest';

import {result} from '../../test/fixtures';

import {formatBytes} from './format';
import {LAG_WINDOW_MS, LagHistory, isLagMetric} from './lag_history';
import LineChart from './line_chart';

describe('LineChart', () => {
    it('says so instead of drawing when there is no point', () => {
        render(
            <LineChart
                title='Stored size'
                series={[{label: 'size', points: []}]}
                formatValue={formatBytes}
                empty='No backups yet.'
            />,
        );
        expect(screen.queryByRole('img')).toBeNull();
        expect(screen.getByText('No backups yet.')).toBeTruthy();
    });

    it('draws a line and a point per value, scaled from 0 to the largest value', () => {
        const t0 = Date.parse('2026-03-01T00:00:00Z');
        const {container} = render(
            <LineChart
                title='Stored size'
                series={[{label: 'size', points: [{t: t0 + 7_200_000, v: 2048}, {t: t0, v: 1024}, {t: t0 + 3_600_000, v: 0}]}]}
                formatValue={formatBytes}
                empty='none'
                width={200}
                height={100}
            />,
        );
        const svg = screen.getByRole('img', {name: 'Stored size: 3 points, latest 2.0 KiB at 2026-03-01 02:00 UTC, highest 2.0 KiB'});
        const line = svg.querySelector('polyline')?.getAttribute('points');

        // Sorted by time; x from 70 to 188 (paddings 70 and 12), y from 78 (0) to 10 (max).
        expect(line).toBe('70.0,44.0 129.0,78.0 188.0,10.0');
        expect(Array.from(container.querySelectorAll('circle title')).map((t) => t.textContent)).toEqual([
            'size: 1.0 KiB at 2026-03-01 00:00:00 UTC',
            'size: 0 B at 2026-03-01 01:00:00 UTC',
            'size: 2.0 KiB at 2026-03-01 02:00:00 UTC',
        ]);
        expect(screen.queryByRole('list')).toBeNull(); // one series: no legend
    });

    it('draws a single point without a line, and a legend for several series', () => {
        const t = Date.parse('2026-03-01T00:00:00Z');
        const {container} = render(
            <LineChart
                title='Lag'
                series={[{label: 'a', points: [{t, v: 1}]}, {label: 'b', points: [{t, v: 2}]}]}
                formatValue={String}
                empty='none'
            />,
        );
        expect(container.querySelector('polyline')).toBeNull();
        expect(container.querySelectorAll('circle')).toHaveLength(2);
        expect(screen.getAllByRole('listitem').map((li) => li.textContent)).toEqual(['a', 'b']);
    });
});

describe('LagHistory', () => {
    const lagResult = (value: number, checkedAt: string, name = 'dr_replication_lag_seconds') => result('database', 'healthy', 'ok', {
        checked_at: checkedAt,
        metrics: [
            {name, help: '', type: 'gauge', labels: {standby: 's1'}, value},
            {name: 'dr_database_up', help: '', type: 'gauge', value: 1},
        ],
    });

    it('knows lag metrics by name', () => {
        for (const name of ['dr_pg_replication_lag_seconds', 'dr_pg_replication_lag_bytes', 'dr_aurora_rpo_lag_seconds', 'dr_opensearch_checkpoint_lag_operations', 'lag']) {
            expect(isLagMetric({name, help: '', type: 'gauge', value: 1})).toBe(true);
        }
        for (const name of ['dr_flag_total', 'dr_backup_age_seconds', 'dr_lag_alerts_sent_total', 'dr_slag_seconds']) {
            expect(isLagMetric({name, help: '', type: 'gauge', value: 1})).toBe(false);
        }
        expect(isLagMetric({name: 'dr_replication_lag_seconds', help: '', type: 'gauge', value: NaN})).toBe(false);
    });

    it('keeps one point per check, per series, for 24 hours', () => {
        const h = new LagHistory();
        const now = Date.parse('2026-03-02T12:00:00Z');
        expect(h.record([result('database', 'healthy', 'no metrics')], now)).toBe(false);
        expect(h.record([lagResult(5, '2026-03-01T11:00:00Z')], now - LAG_WINDOW_MS - 1)).toBe(true);
        h.record([lagResult(7, '2026-03-02T11:00:00Z')], now);
        h.record([lagResult(7, '2026-03-02T11:00:00Z')], now); // the same (cached) check again
        h.record([lagResult(4096, '2026-03-02T11:30:00Z', 'dr_replication_lag_bytes')], now);

        const list = h.list(now);
        expect(list.map((s) => [s.key, s.unit, s.points])).toEqual([
            ['dr_replication_lag_bytes{standby=s1}', 'bytes', [{t: Date.parse('2026-03-02T11:30:00Z'), v: 4096}]],
            // The point from 25 hours ago is gone.
            ['dr_replication_lag_seconds{standby=s1}', 'seconds', [{t: Date.parse('2026-03-02T11:00:00Z'), v: 7}]],
        ]);
        expect(h.list(now + LAG_WINDOW_MS)).toEqual([]);
    });
});
