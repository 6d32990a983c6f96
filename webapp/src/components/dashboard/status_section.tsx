import React from 'react';

import type {ProbeResult, StatusReport} from '../../api/types';
import StatusBadge, {NOT_SET_UP_COLOR, normalizeVerdict} from '../status_badge';

import {ErrorAlert, ServerText, StateLabel, type Loaded} from './common';
import {formatBytes, formatDuration, formatTime} from './format';
import {LAG_WINDOW_MS, type LagSeries} from './lag_history';
import LineChart from './line_chart';

/** The components of a DR status, in the order the admin reads them. */
export const COMPONENTS: {key: string; label: string}[] = [
    {key: 'database', label: 'Database'},
    {key: 's3', label: 'S3'},
    {key: 'opensearch', label: 'OpenSearch'},
    {key: 'scheduler', label: 'Job scheduler'},
    {key: 'idp', label: 'Identity provider'},
    {key: 'backups', label: 'Backups'},
];

const RANK: Record<string, number> = {healthy: 1, degraded: 2, unknown: 3, critical: 4};

/** The worst state of a component's results, as the server ranks them (probe.State.Rank). */
export function worstState(results: ProbeResult[]): string {
    if (results.length === 0) {
        return 'none';
    }
    return results.reduce<string>((worst, r) => ((RANK[r.state] ?? 0) > (RANK[worst] ?? 0) ? r.state : worst), 'not_configured');
}

/** The summary's prefix for a component the admin has not set up (probers.NotSetUpPrefix). */
export const NOT_SET_UP_PREFIX = 'not set up: ';

/**
 * A component's state as the table shows it: a component the admin has not set up reads
 * "Not set up" in a neutral look, apart from "Unknown" (set up but not answering) and from
 * "Not reported" (no result at all).
 */
const ComponentState = ({state}: {state: string}): React.JSX.Element => {
    if (state === 'not_configured') {
        return (
            <span
                className='DrState DrState--not_set_up'
                style={{color: NOT_SET_UP_COLOR}}
            >
                {'Not set up'}
            </span>
        );
    }
    return <StateLabel state={state}/>;
};

function lagFormat(unit: string): (v: number) => string {
    switch (unit) {
    case 'seconds':
        return (v) => formatDuration(v * 1000);
    case 'bytes':
        return formatBytes;
    default:
        return (v) => `${v.toLocaleString('en-US', {maximumFractionDigits: 2})}${unit === 'value' ? '' : ` ${unit}`}`;
    }
}

export interface StatusSectionProps {
    status: Loaded<StatusReport>;
    lag: LagSeries[];
    now: number;
    pollSeconds: number;
}

const ComponentRow = ({label, results}: {label: string; results: ProbeResult[]}): React.JSX.Element => (
    <tr>
        <th scope='row'>{label}</th>
        <td><ComponentState state={worstState(results)}/></td>
        <td>
            {results.length === 0 && <span className='DrMuted'>No check reported for this component.</span>}
            {results.map((r, i) => (
                <div key={`${i}:${r.name}`}>
                    <strong>{r.name}</strong>
                    {r.summary ? ': ' : ''}
                    <ServerText text={r.state === 'not_configured' && r.summary.startsWith(NOT_SET_UP_PREFIX) ? r.summary.slice(NOT_SET_UP_PREFIX.length) : r.summary}/>
                    {(r.findings ?? []).length > 0 && (
                        <ul>
                            {(r.findings ?? []).map((f, j) => (
                                <li key={`${j}:${f.message}`}>
                                    <StateLabel state={f.state}/>
                                    {' '}
                                    <ServerText text={f.message}/>
                                    {f.fix ? (
                                        <span className='DrMuted'>
                                            {' Fix: '}
                                            <ServerText text={f.fix}/>
                                        </span>
                                    ) : null}
                                </li>
                            ))}
                        </ul>
                    )}
                </div>
            ))}
        </td>
    </tr>
);

const StatusSection = ({status, lag, now, pollSeconds}: StatusSectionProps): React.JSX.Element => {
    const report = status.data;
    const known = new Set(COMPONENTS.map((c) => c.key));
    const extra = [...new Set((report?.results ?? []).map((r) => r.component).filter((c) => !known.has(c)))].sort();
    const rows = [...COMPONENTS, ...extra.map((key) => ({key, label: key}))];
    const notSetUp = rows.filter((c) => worstState((report?.results ?? []).filter((r) => r.component === c.key)) === 'not_configured').map((c) => c.label);

    return (
        <section
            aria-labelledby='dr-status-title'
            data-testid='dr-status'
        >
            <h4 id='dr-status-title'>Status</h4>
            {status.error && (
                <ErrorAlert
                    what={report ? 'Could not refresh the status (showing the last answer)' : 'Could not load the status'}
                    error={status.error}
                />
            )}
            {report && (
                <>
                    <StatusBadge
                        verdict={normalizeVerdict(report.verdict)}
                        notSetUp={notSetUp}
                        reasons={report.reasons.map((r, i) => (
                            <React.Fragment key={i}>
                                {`${r.component}: `}
                                <ServerText text={r.message}/>
                                {r.fix ? (
                                    <span className='DrMuted'>
                                        {' Fix: '}
                                        <ServerText text={r.fix}/>
                                    </span>
                                ) : null}
                            </React.Fragment>
                        ))}
                    />
                    <p className='DrMuted'>
                        {`Checked ${formatTime(report.checked_at, true)} in ${formatDuration(report.duration_ns / 1e6)}${report.cached ? ' (the server\'s latest run, from its cache)' : ''}.`}
                    </p>
                    <table aria-label='Components'>
                        <thead>
                            <tr>
                                <th scope='col'>Component</th>
                                <th scope='col'>State</th>
                                <th scope='col'>What was checked</th>
                            </tr>
                        </thead>
                        <tbody>
                            {rows.map((c) => (
                                <ComponentRow
                                    key={c.key}
                                    label={c.label}
                                    results={report.results.filter((r) => r.component === c.key)}
                                />
                            ))}
                        </tbody>
                    </table>
                </>
            )}
            {lag.length > 0 && (
                <>
                    <div className='DrCharts'>
                        {[...new Set(lag.map((s) => s.unit))].map((unit) => (
                            <LineChart
                                key={unit}
                                title={`Replication lag (${unit}), last 24 hours`}
                                series={lag.filter((s) => s.unit === unit)}
                                formatValue={lagFormat(unit)}
                                xDomain={[now - LAG_WINDOW_MS, now]}
                                empty='No lag measured in the last 24 hours.'
                            />
                        ))}
                    </div>
                    <p className='DrMuted'>
                        {`The server keeps no lag history: this page records the lag from its own status polls (every ${pollSeconds} s) ` +
                            'while it is open, so the chart starts when you open the dashboard.'}
                    </p>
                </>
            )}
        </section>
    );
};

export default StatusSection;
