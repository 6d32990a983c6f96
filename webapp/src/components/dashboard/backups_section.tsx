import React from 'react';

import type {BackupEntry, BackupList, BackupManifest, JobInfo, Verification} from '../../api/types';

import {ErrorAlert, NoticeBox, ServerText, type Loaded, type Notice} from './common';
import {formatBytes, formatDuration, formatTime, toMillis} from './format';
import LineChart from './line_chart';

/** What the table and the charts show of one backup, from its manifests at each destination. */
export interface BackupSummary {
    id: string;
    pinned: boolean;
    started: number;
    durationMs: number;
    size: number;
    components: string;
    destinations: string[];
    encrypted: boolean;
    warnings: string[];
    verification?: Verification | null;
}

function componentsOf(m: BackupManifest | undefined): string {
    if (!m) {
        return '—';
    }
    const parts = (['database', 'config', 'files'] as const).filter((c) => m.components[c]);
    return parts.length > 0 ? parts.join(', ') : 'nothing';
}

export function summarize(e: BackupEntry): BackupSummary {
    const names = Object.keys(e.manifests).sort();
    const manifests = names.map((n) => e.manifests[n]).filter((m): m is BackupManifest => m !== undefined);
    const first = manifests[0];
    const started = toMillis(first?.started_at);
    const finished = Math.max(...manifests.map((m) => toMillis(m.finished_at)));
    return {
        id: e.id,
        pinned: e.pinned,
        started,
        durationMs: finished - started,

        // Stored bytes at every destination, as `/dr backup list` counts them.
        size: manifests.reduce((n, m) => n + (m.objects ?? []).reduce((k, o) => k + o.size, 0), 0),
        components: componentsOf(first),
        destinations: manifests.map((m, i) => `${names[i] ?? m.destination}${m.off_site ? ' (off-site)' : ''}`),
        encrypted: manifests.length > 0 && manifests.every((m) => m.encryption.encrypted),
        warnings: manifests.flatMap((m, i) => (m.warnings ?? []).map((w) => `${names[i] ?? m.destination}: ${w}`)),
        verification: e.verification,
    };
}

const OUTCOME_LABELS: Record<string, string> = {passed: 'Passed', failed: 'Failed', partial: 'Partial'};

const VerificationCell = ({v}: {v?: Verification | null}): React.JSX.Element => {
    if (!v) {
        return <span className='DrMuted'>Not verified</span>;
    }
    return (
        <div>
            <span className={`DrState DrOutcome--${v.outcome}`}>{OUTCOME_LABELS[v.outcome] ?? v.outcome}</span>
            {` ${v.drill ? 'restore drill' : 'check'}, ${formatTime(v.checked_at)}, ${formatDuration(v.duration_ms)}`}
            {v.summary && <div className='DrMuted'><ServerText text={v.summary}/></div>}
        </div>
    );
};

// The browser's clock and the server's differ a little, and `now` is the last refresh: never
// say a job started in the future.
function elapsedText(started: string, now: number): string {
    const ms = now - toMillis(started);
    return Number.isFinite(ms) && ms >= 1000 ? `running for ${formatDuration(ms)}` : 'just started';
}

const JobPanel = ({what, job, now, testId, onCancel, busy}: {what: string; job: JobInfo; now: number; testId: string; onCancel?: () => void; busy: boolean}): React.JSX.Element => (
    <div
        className='DrJob'
        data-testid={testId}
        data-job-id={job.id}
    >
        <strong>{`${what} running`}</strong>
        {` (job `}
        <code>{job.id}</code>
        {`, started ${formatTime(job.started, true)}, ${elapsedText(job.started, now)}): `}
        <span data-testid={`${testId}-progress`}>{job.progress || 'starting…'}</span>
        {onCancel && (
            <div>
                <button
                    type='button'
                    className='btn btn-tertiary'
                    disabled={busy}
                    onClick={onCancel}
                >
                    {`Cancel the ${what.toLowerCase()}`}
                </button>
            </div>
        )}
    </div>
);

/** Backups at a destination that this server did not make: shown apart, never restored. */
const UntrustedTable = ({entries, busy, onDelete}: {entries: BackupEntry[]; busy: boolean; onDelete: (id: string) => void}): React.JSX.Element => (
    <div
        role='alert'
        className='DrAlert'
        data-testid='dr-untrusted'
    >
        {`${entries.length} backup${entries.length === 1 ? '' : 's'} not made by this server: never the latest, never drilled, not counted nor deleted by retention.`}
        <table aria-label='Backups not made by this server'>
            <thead>
                <tr>
                    <th scope='col'>Backup</th>
                    <th scope='col'>Says it started</th>
                    <th scope='col'>Why</th>
                    <th scope='col'>Actions</th>
                </tr>
            </thead>
            <tbody>
                {entries.map((e) => (
                    <tr
                        key={e.id}
                        data-untrusted-id={e.id}
                    >
                        <td><code>{e.id}</code></td>
                        <td>{formatTime(summarize(e).started)}</td>
                        <td>
                            {Object.keys(e.not_made_here ?? {}).sort().map((d) => (
                                <div key={d}>
                                    {`${d}: `}
                                    <ServerText text={e.not_made_here?.[d] ?? ''}/>
                                </div>
                            ))}
                        </td>
                        <td>
                            <button
                                type='button'
                                className='btn btn-danger btn-sm'
                                disabled={busy}
                                onClick={() => onDelete(e.id)}
                                aria-label={`Delete ${e.id}`}
                            >
                                Delete
                            </button>
                        </td>
                    </tr>
                ))}
            </tbody>
        </table>
    </div>
);

export interface BackupsSectionProps {
    backups: Loaded<BackupList>;
    notice?: Notice;
    busy: boolean;
    now: number;
    onBackup: () => void;
    onCancel: () => void;
    onVerify: (id: string, drill: boolean) => void;
    onPin: (id: string, pinned: boolean) => void;
    onDelete: (id: string) => void;
}

const BackupsSection = ({backups, notice, busy, now, onBackup, onCancel, onVerify, onPin, onDelete}: BackupsSectionProps): React.JSX.Element => {
    const list = backups.data;
    const summaries = (list?.backups ?? []).map(summarize);
    const oldestFirst = [...summaries].filter((s) => Number.isFinite(s.started)).reverse();

    return (
        <section
            aria-labelledby='dr-backups-title'
            data-testid='dr-backups'
        >
            <h4 id='dr-backups-title'>Backups</h4>
            <div className='DrToolbar'>
                <button
                    type='button'
                    className='btn btn-primary'
                    disabled={busy || !list || Boolean(list.running)}
                    onClick={onBackup}
                >
                    Back up now
                </button>
                <span className='DrMuted'>Backs up what the Components setting names to every destination, like <code>/dr backup now</code>.</span>
            </div>
            {list?.running && (
                <JobPanel
                    what='Backup'
                    job={list.running}
                    now={now}
                    testId='dr-backup-running'
                    onCancel={onCancel}
                    busy={busy}
                />
            )}
            {list?.verifying && (
                <JobPanel
                    what='Verification'
                    job={list.verifying}
                    now={now}
                    testId='dr-verify-running'
                    busy={busy}
                />
            )}
            <NoticeBox notice={notice}/>
            {backups.error && (
                <ErrorAlert
                    what={list ? 'Could not refresh the backups (showing the last answer)' : 'Could not load the backups'}
                    error={backups.error}
                />
            )}
            {(list?.problems ?? []).length > 0 && (
                <div
                    role='alert'
                    className='DrAlert'
                >
                    Some destinations could not be listed:
                    <ul>
                        {list?.problems.map((p) => <li key={p}>{p}</li>)}
                    </ul>
                </div>
            )}
            {list?.signing_key && (
                <p
                    className='DrMuted'
                    data-testid='dr-signing-key'
                    title={list.signing_key.public_key}
                >
                    {'Backups are signed by this server\'s key '}
                    <code>{list.signing_key.fingerprint}</code>
                    {'. Keep the public key (/dr version) with your age identity.'}
                </p>
            )}
            {(list?.untrusted ?? []).length > 0 && (
                <UntrustedTable
                    entries={list?.untrusted ?? []}
                    busy={busy}
                    onDelete={onDelete}
                />
            )}
            {list && summaries.length === 0 && (
                <p>No complete backups yet. Back up now makes the first one.</p>
            )}
            {oldestFirst.length > 0 && (
                <div className='DrCharts'>
                    <LineChart
                        title='Stored size per backup'
                        series={[{label: 'size', points: oldestFirst.map((s) => ({t: s.started, v: s.size}))}]}
                        formatValue={formatBytes}
                        empty='No backups.'
                    />
                    <LineChart
                        title='Duration per backup'
                        series={[{label: 'duration', points: oldestFirst.map((s) => ({t: s.started, v: s.durationMs / 1000}))}]}
                        formatValue={(v) => formatDuration(v * 1000)}
                        empty='No backups.'
                    />
                </div>
            )}
            {summaries.length > 0 && (
                <table aria-label='Backup history'>
                    <thead>
                        <tr>
                            <th scope='col'>Status</th>
                            <th scope='col'>Backup</th>
                            <th scope='col'>Started</th>
                            <th scope='col'>Size</th>
                            <th scope='col'>Duration</th>
                            <th scope='col'>Components</th>
                            <th scope='col'>Destinations</th>
                            <th scope='col'>Pinned</th>
                            <th scope='col'>Verification</th>
                            <th scope='col'>Actions</th>
                        </tr>
                    </thead>
                    <tbody>
                        {summaries.map((s) => (
                            <tr
                                key={s.id}
                                data-backup-id={s.id}
                            >
                                <td>
                                    {'Complete'}
                                    <div
                                        className='DrMuted'
                                        title={s.warnings.length > 0 ? s.warnings.join('\n') : undefined}
                                    >
                                        {s.encrypted ? 'encrypted' : 'not encrypted'}
                                        {s.warnings.length > 0 ? `, ${s.warnings.length} warning${s.warnings.length === 1 ? '' : 's'}` : ''}
                                    </div>
                                </td>
                                <td><code>{s.id}</code></td>
                                <td>{formatTime(s.started)}</td>
                                <td>{formatBytes(s.size)}</td>
                                <td>{formatDuration(s.durationMs)}</td>
                                <td>{s.components}</td>
                                <td>{s.destinations.join(', ')}</td>
                                <td>{s.pinned ? 'Pinned' : 'No'}</td>
                                <td><VerificationCell v={s.verification}/></td>
                                <td>
                                    <button
                                        type='button'
                                        className='btn btn-tertiary btn-sm'
                                        disabled={busy || Boolean(list?.verifying)}
                                        onClick={() => onVerify(s.id, false)}
                                        aria-label={`Verify ${s.id}`}
                                    >
                                        Verify
                                    </button>
                                    <button
                                        type='button'
                                        className='btn btn-tertiary btn-sm'
                                        disabled={busy || Boolean(list?.verifying)}
                                        onClick={() => onVerify(s.id, true)}
                                        aria-label={`Restore drill of ${s.id}`}
                                    >
                                        Drill
                                    </button>
                                    <button
                                        type='button'
                                        className='btn btn-tertiary btn-sm'
                                        disabled={busy}
                                        onClick={() => onPin(s.id, !s.pinned)}
                                        aria-label={`${s.pinned ? 'Unpin' : 'Pin'} ${s.id}`}
                                    >
                                        {s.pinned ? 'Unpin' : 'Pin'}
                                    </button>
                                    <button
                                        type='button'
                                        className='btn btn-danger btn-sm'
                                        disabled={busy || s.pinned}
                                        title={s.pinned ? 'Pinned backups cannot be deleted: unpin it first.' : undefined}
                                        onClick={() => onDelete(s.id)}
                                        aria-label={`Delete ${s.id}`}
                                    >
                                        Delete
                                    </button>
                                </td>
                            </tr>
                        ))}
                    </tbody>
                </table>
            )}
        </section>
    );
};

export default BackupsSection;
